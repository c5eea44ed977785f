//! One-line errors with exit codes scripts can use.

use std::fmt;
use std::process::ExitCode;

use backend_url::{OpenError, UrlError};
use kv_transfer::TransferError;

/// Exit codes: `0` success; `1` not found (`get` of a missing key or partition);
/// `2` bad arguments or URL (an operation the backend does not offer included); `3` the backend or the OS failed; `4` a check failed
/// (corruption, a verify mismatch, a corrupt dump); `5` interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    NotFound = 1,
    Usage = 2,
    Failed = 3,
    Check = 4,
    Interrupted = 5,
}

/// An error the CLI reports on one line.
#[derive(Debug)]
pub struct CliError {
    pub code: Code,
    pub message: String,
}

impl CliError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// Prints `kvb: error: ...` on one line and returns the exit code.
    pub fn report(&self) -> ExitCode {
        let line: String = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("kvb: error: {line}");
        ExitCode::from(self.code as u8)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<UrlError> for CliError {
    fn from(e: UrlError) -> Self {
        CliError::new(Code::Usage, e.to_string())
    }
}

impl From<OpenError> for CliError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Url(u) => u.into(),
            other => CliError::new(Code::Failed, other.to_string()),
        }
    }
}

impl From<backend_api::Error> for CliError {
    fn from(e: backend_api::Error) -> Self {
        use backend_api::Error as E;
        let code = match &e {
            E::InvalidKey { .. }
            | E::InvalidValue { .. }
            | E::InvalidPartitionName { .. }
            | E::InvalidConfig { .. }
            | E::Unsupported { .. } => Code::Usage,
            E::PartitionNotFound(_) => Code::NotFound,
            E::Corruption { .. } => Code::Check,
            _ => Code::Failed,
        };
        CliError::new(code, e.to_string())
    }
}

impl From<TransferError> for CliError {
    fn from(e: TransferError) -> Self {
        let code = match &e {
            TransferError::Corrupt { .. }
            | TransferError::Mismatch { .. }
            | TransferError::UnsupportedVersion { .. } => Code::Check,
            TransferError::Interrupted => Code::Interrupted,
            TransferError::NotEmpty { .. }
            | TransferError::Checkpoint { .. }
            | TransferError::NoZstd => Code::Usage,
            TransferError::Backend {
                source: backend_api::Error::Corruption { .. },
                ..
            } => Code::Check,
            _ => Code::Failed,
        };
        CliError::new(code, e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(Code::Failed, e.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
