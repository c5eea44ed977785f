//! RocksDB errors mapped onto the contract's errors, keeping RocksDB's error as their
//! source and naming the store they concern.
//!
//! The `rocksdb` crate exposes an error as a status string only (`"IO error: ..."`);
//! its [`ErrorKind`] is parsed from the string's first word, and there is no errno, so
//! a RocksDB error is `Error::Backend` (or `Locked`, `Corruption`) with RocksDB's error
//! as its source, never a made-up `io::Error` (RocksDB's own I/O messages name the file
//! they concern). The store directory is created by
//! [`open_db`](crate::engine::open_db) itself, so that failure is `Error::Io` naming the
//! directory and keeping the OS's `io::Error`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use backend_api::{BoxError, Error, Partition};
use rocksdb::ErrorKind;

/// The backend's name in errors and reports.
pub(crate) const NAME: &str = "rocks";

/// A RocksDB or OS error, with the step and store it concerns when known: the private
/// error inside the `Error::Io`, `Error::Locked` or `Error::Backend` that
/// [`rocks_err`], [`rocks_err_at`] and [`io_err_at`] return. `source()` is the
/// original error, whole.
#[derive(Debug)]
struct RocksError {
    /// What was being done ("open", "create"), when the caller knows it.
    step: Option<&'static str>,
    /// The store directory, when the caller knows it and the contract error around this
    /// one does not already name it (`Error::Io` does).
    store: Option<PathBuf>,
    source: BoxError,
}

impl fmt::Display for RocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RocksDB")?;
        if let Some(step) = self.step {
            write!(f, " {step}")?;
        }
        if let Some(store) = &self.store {
            write!(f, " of {}", store.display())?;
        }
        write!(f, ": {}", self.source)
    }
}

impl std::error::Error for RocksError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The closest contract error for `error` (a held `LOCK` is `Locked`, corruption is
/// `Corruption`, the rest `Backend`; `Locked` and `Backend` keep RocksDB's error as
/// their source), naming the step and store in `at` when given. RocksDB's error is a
/// status string with no errno, so it never becomes an `io::Error`; RocksDB's own I/O
/// messages name the file they concern.
fn map(error: rocksdb::Error, at: Option<(&'static str, &Path)>) -> Error {
    let kind = error.kind();
    let locked = is_lock_error(&error);
    let wrapped = RocksError {
        step: at.map(|(step, _)| step),
        store: at.map(|(_, path)| path.to_path_buf()),
        source: Box::new(error),
    };
    match kind {
        ErrorKind::Corruption => Error::corruption(wrapped.to_string()),
        ErrorKind::IOError if locked => {
            let detail = match at {
                Some((_, path)) => format!("RocksDB store {}", path.display()),
                None => "RocksDB store".to_owned(),
            };
            Error::locked(detail, Some(Box::new(wrapped)))
        }
        _ => Error::backend(NAME, wrapped),
    }
}

/// Maps a RocksDB error of a running store onto the closest contract error (see
/// [`map`]). Where the store path is at hand, use [`rocks_err_at`].
pub(crate) fn rocks_err(error: rocksdb::Error) -> Error {
    map(error, None)
}

/// [`rocks_err`] for a `step` ("open") on the store at `path`, which the error's
/// message then names.
pub(crate) fn rocks_err_at(step: &'static str, path: &Path, error: rocksdb::Error) -> Error {
    map(error, Some((step, path)))
}

/// An OS error of a `step` on `path`: `Error::Io` naming `path`, whose `io::Error` has
/// the same kind and keeps `error` as its source.
pub(crate) fn io_err_at(step: &'static str, path: &Path, error: io::Error) -> Error {
    let kind = error.kind();
    let wrapped = RocksError {
        step: Some(step),
        store: None,
        source: Box::new(error),
    };
    Error::io(path, io::Error::new(kind, wrapped))
}

/// `PartitionNotFound` for `partition`.
pub(crate) fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}

/// True for the error RocksDB gives when another handle holds the store's `LOCK` file.
///
/// RocksDB reports it only in the status string (no code beyond `IOError`), from
/// `PosixFileSystem::LockFile`: `"IO error: lock hold by current process, ..."` when
/// this process holds it, and `"IO error: While lock file: <path>/LOCK: <errno>"` when
/// the `fcntl` lock fails (another process). Those two fixed contexts are what is
/// matched; a failure to *open* the `LOCK` file ("while open a file for lock", e.g.
/// permission denied) is not a lock conflict and stays `Io`.
pub(crate) fn is_lock_error(error: &rocksdb::Error) -> bool {
    let message = error.as_ref();
    matches!(error.kind(), ErrorKind::IOError)
        && (message.contains("While lock file: ")
            || message.contains("lock hold by current process"))
}

/// A blocking task that panicked or was cancelled.
pub(crate) fn join_err(error: tokio::task::JoinError) -> Error {
    Error::backend(NAME, error)
}
