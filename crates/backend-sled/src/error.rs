//! sled errors mapped onto the contract's errors.

use backend_api::Error;

/// The backend's name in errors and reports.
pub(crate) const NAME: &str = "sled";

/// Maps a sled error onto the closest contract error, keeping the source.
pub(crate) fn sled_err(error: sled::Error) -> Error {
    match error {
        sled::Error::Io(io) => Error::Io(io),
        // A tree dropped under a running scan: its partition is gone.
        sled::Error::CollectionNotFound(name) => {
            let name = String::from_utf8_lossy(&name);
            Error::PartitionNotFound(name.strip_prefix("p:").unwrap_or(&name).to_owned())
        }
        sled::Error::Corruption { at, .. } => {
            Error::corruption(format!("sled found corrupt data at {at:?}"))
        }
        other => Error::backend(NAME, other),
    }
}

/// True for the error sled gives when another handle holds the store's file lock.
pub(crate) fn is_lock_error(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// A blocking task that panicked or was cancelled.
pub(crate) fn join_err(error: tokio::task::JoinError) -> Error {
    Error::backend(NAME, error)
}
