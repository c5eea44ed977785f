//! sled errors mapped onto the contract's errors, keeping their source and naming the
//! store they concern.

use std::fmt;
use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use backend_api::{BoxError, Error, Partition};

/// The backend's name in errors and reports.
pub(crate) const NAME: &str = "sled";

/// An engine or OS error and the step (and file or directory) it concerns: the
/// private error inside the `Error::Io` or `Error::Backend` that [`sled_err_at`] and
/// [`io_err_at`] return. `Display` names the failed step and the path (unless the
/// contract error around it, `Error::Io`, already does); `source()` is the original
/// error, whole.
#[derive(Debug)]
struct AtPath {
    /// What was being done ("open", "fsync").
    step: &'static str,
    path: Option<PathBuf>,
    source: BoxError,
}

impl fmt::Display for AtPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sled {}", self.step)?;
        if let Some(path) = &self.path {
            write!(f, " of {}", path.display())?;
        }
        write!(f, ": {}", self.source)
    }
}

impl std::error::Error for AtPath {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Maps a sled error onto the closest contract error, keeping the source. For errors
/// of a known store path, use [`sled_err_at`].
pub(crate) fn sled_err(error: sled::Error) -> Error {
    match error {
        sled::Error::Io(io) => Error::backend(NAME, sled::Error::Io(io)),
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

/// [`sled_err`] for a step on the store at `path`: I/O and otherwise unmapped errors
/// name the path and keep the sled error as their source.
pub(crate) fn sled_err_at(step: &'static str, path: &Path, error: sled::Error) -> Error {
    match error {
        sled::Error::Io(io) => io_err_at(step, path, io),
        sled::Error::Unsupported(_) | sled::Error::ReportableBug(_) => Error::backend(
            NAME,
            AtPath {
                step,
                path: Some(path.to_path_buf()),
                source: Box::new(error),
            },
        ),
        other => sled_err(other),
    }
}

/// An OS error of a `step` on `path`: `Error::Io` naming `path`, whose `io::Error` has
/// the same kind and keeps `error` as its source.
pub(crate) fn io_err_at(step: &'static str, path: &Path, error: io::Error) -> Error {
    let kind = error.kind();
    let wrapped = AtPath {
        step,
        path: None,
        source: Box::new(error),
    };
    Error::io(path, io::Error::new(kind, wrapped))
}

/// `PartitionNotFound` for `partition`.
pub(crate) fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}

/// True when opening the store at `store` failed because another handle holds its file
/// lock. sled reports a held lock only as a formatted `io::ErrorKind::Other` message
/// ("could not acquire lock on ..."), so instead of matching that text this asks the OS:
/// it tries the same `flock` sled takes on `<store>/db`, and a `WouldBlock` answer means
/// the lock is held. The probe's lock is released at once (the file is closed).
pub(crate) fn is_lock_error(error: &sled::Error, store: &Path) -> bool {
    let sled::Error::Io(io) = error else {
        return false;
    };
    io.kind() == io::ErrorKind::Other
        && File::open(store.join("db"))
            .is_ok_and(|db| matches!(db.try_lock(), Err(TryLockError::WouldBlock)))
}

/// A blocking task that panicked or was cancelled.
pub(crate) fn join_err(error: tokio::task::JoinError) -> Error {
    Error::backend(NAME, error)
}
