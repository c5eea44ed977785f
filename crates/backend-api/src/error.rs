//! The one error type every backend returns.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed error kept as a [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure a [`StorageBackend`](crate::StorageBackend) can report.
///
/// Backends map their engine's errors onto these variants precisely (a missing
/// partition stays [`Error::PartitionNotFound`], a dead server is
/// [`Error::Unavailable`]); whatever has no better home goes into [`Error::Backend`]
/// with its source kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A partition name broke the naming rule. Nothing was done.
    #[error("invalid partition name {name:?}: {reason}; use 1 to 64 characters of [A-Za-z0-9_]")]
    InvalidPartitionName {
        /// The rejected name.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The partition does not exist; create it with `create_partition` first.
    #[error("partition {0:?} does not exist; create it with create_partition first")]
    PartitionNotFound(String),
    /// A key was empty or longer than `capabilities().max_key_len`. Nothing was written.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// Why the key was rejected.
        reason: String,
    },
    /// A value was longer than `capabilities().max_value_len`. Nothing was written.
    #[error("invalid value: {reason}")]
    InvalidValue {
        /// Why the value was rejected.
        reason: String,
    },
    /// The backend does not offer this operation; check `capabilities()` before calling.
    #[error("{backend} backend does not support {operation}; check capabilities() first")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation that was called.
        operation: &'static str,
    },
    /// An I/O error from the operating system on the file or directory at `path`.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Stored data failed a check (checksum, framing, version). Nothing wrong was returned.
    #[error(
        "data corruption: {detail}; nothing wrong was returned; restore from a backup (some backends also offer a repair mode: see their docs)"
    )]
    Corruption {
        /// What was found where (file, offset, check that failed).
        detail: String,
    },
    /// The engine cannot be reached (server down, connection refused). Retry later.
    #[error("backend unavailable: {detail}; check the server and retry")]
    Unavailable {
        /// What failed, naming the server.
        detail: String,
        /// The client's or the operating system's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// An operation did not finish within its deadline. Its effect is unknown.
    #[error("{operation} timed out after {after:?}; its effect is unknown, retry if idempotent")]
    Timeout {
        /// The operation that timed out.
        operation: &'static str,
        /// How long it was given.
        after: Duration,
    },
    /// The backend was closed with `close()`; open a new one.
    #[error("the backend is closed; open it again")]
    Closed,
    /// Another handle or process holds the store's exclusive lock.
    #[error("store is locked by another handle or process: {detail}; close that one first")]
    Locked {
        /// Which store and lock.
        detail: String,
        /// The operating system's or engine's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The store refuses writes until it is reopened: a write or sync failed and its
    /// effect on disk is unknown. Writes acknowledged before the failure are safe; reads
    /// may still work.
    #[error("store refuses writes until reopened: {detail}")]
    Poisoned {
        /// What failed first.
        detail: String,
    },
    /// Stored data uses a format version this build cannot read (written by a newer or
    /// an older release). Nothing was changed.
    #[error("unsupported format version {found}: {detail}")]
    UnsupportedVersion {
        /// Which file or store, and which versions this build reads.
        detail: String,
        /// The version found.
        found: u64,
    },
    /// The configuration given when opening the backend is invalid or was refused.
    #[error("invalid configuration: {detail}")]
    InvalidConfig {
        /// What is wrong and what to change.
        detail: String,
        /// The error behind it (a refused TLS handshake, a URL parser's), when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other engine error, with its source kept.
    #[error("{backend} backend error: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// The engine's own error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Wraps an engine error that has no more precise variant.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend,
            source: source.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The engine cannot be reached; `source` is the underlying error, if any.
    pub fn unavailable(detail: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Unavailable {
            detail: detail.into(),
            source,
        }
    }

    /// Another handle or process holds the lock; `source` is the underlying error, if any.
    pub fn locked(detail: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Locked {
            detail: detail.into(),
            source,
        }
    }

    /// The answer of an operation the backend does not offer.
    pub fn unsupported(backend: &'static str, operation: &'static str) -> Self {
        Error::Unsupported { backend, operation }
    }

    /// A corruption report.
    pub fn corruption(detail: impl Into<String>) -> Self {
        Error::Corruption {
            detail: detail.into(),
        }
    }

    /// True for [`Error::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}
