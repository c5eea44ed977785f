//! Redis errors mapped onto the contract's error enum.

use std::time::Duration;

use backend_api::Error;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// The backend's short name.
pub(crate) const NAME: &str = "redis";

/// Maps `err`, from `operation`, onto the closest contract variant.
pub(crate) fn map(err: RedisError, operation: &'static str, timeout: Duration) -> Error {
    let kind = err.kind();
    let code = err.code().unwrap_or("");
    if kind == ErrorKind::AuthenticationFailed || matches!(code, "WRONGPASS" | "NOAUTH" | "NOPERM")
    {
        return Error::InvalidConfig {
            detail: format!(
                "the server refused the credentials ({err}); check the user and password in the URL"
            ),
        };
    }
    if kind == ErrorKind::InvalidClientConfig {
        return Error::InvalidConfig {
            detail: format!("{err}; check the URL"),
        };
    }
    if err.is_timeout() {
        return Error::Timeout {
            operation,
            after: timeout,
        };
    }
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || matches!(
            kind,
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
            )
        )
    {
        return Error::Unavailable {
            detail: format!("{operation}: {err}"),
        };
    }
    Error::backend(NAME, err)
}

/// The answer of a call that ran out of time.
pub(crate) fn timeout(operation: &'static str, after: Duration) -> Error {
    Error::Timeout { operation, after }
}
