//! RocksDB errors mapped onto the contract's errors.

use backend_api::Error;
use rocksdb::ErrorKind;

/// The backend's name in errors and reports.
pub(crate) const NAME: &str = "rocks";

/// Maps a RocksDB error onto the closest contract error, keeping its message.
pub(crate) fn rocks_err(error: rocksdb::Error) -> Error {
    match error.kind() {
        ErrorKind::Corruption => Error::corruption(error.into_string()),
        ErrorKind::IOError if is_lock_error(&error) => Error::Locked {
            detail: error.into_string(),
        },
        ErrorKind::IOError => Error::Io(std::io::Error::other(error.into_string())),
        _ => Error::backend(NAME, error),
    }
}

/// True for the error RocksDB gives when another handle holds the store's `LOCK` file.
pub(crate) fn is_lock_error(error: &rocksdb::Error) -> bool {
    let message = error.as_ref();
    matches!(error.kind(), ErrorKind::IOError)
        && (message.contains("/LOCK") || message.contains("lock hold"))
}

/// A blocking task that panicked or was cancelled.
pub(crate) fn join_err(error: tokio::task::JoinError) -> Error {
    Error::backend(NAME, error)
}
