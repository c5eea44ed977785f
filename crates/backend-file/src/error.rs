//! How the engine's failures become [`backend_api::Error`]s.
//!
//! Every I/O error keeps the operating system's error as its source and names the file
//! or directory it happened on ([`IoAt`]); a bad record names its file and offset; a
//! lock held elsewhere is recognised from the error kind
//! ([`std::io::ErrorKind::WouldBlock`], see [`crate::io::Vfs::lock`]), never from
//! message text; a file of a format version this build cannot read is
//! [`Error::UnsupportedVersion`]; a write or sync whose effect is unknown poisons the
//! store ([`Error::Poisoned`] for every later write until it is reopened).

use std::io;
use std::path::Path;

use backend_api::{Error, Result};

/// The backend's name in errors.
pub(crate) const NAME: &str = "file";

/// Attaches the file or directory an I/O error happened on.
pub(crate) trait IoAt<T> {
    /// [`Error::Io`] naming `path`, with the I/O error as its source.
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoAt<T> for io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path.as_ref(), e))
    }
}

/// A bad record or header at `offset` of `file`.
pub(crate) fn corrupt(file: impl AsRef<Path>, offset: u64, why: impl std::fmt::Display) -> Error {
    Error::corruption(format!(
        "{}: offset {offset}: {why}",
        file.as_ref().display()
    ))
}

/// Taking the store's lock failed: held elsewhere ([`Error::Locked`]) or an I/O error.
pub(crate) fn lock_failed(dir: &Path, lock: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        Error::locked(
            format!(
                "{} is open in another handle or process (lock {})",
                dir.display(),
                lock.display()
            ),
            Some(e.into()),
        )
    } else {
        Error::io(lock, e)
    }
}

/// `file` has format `found`, which this build does not read.
pub(crate) fn unsupported_version(file: &Path, found: u16) -> Error {
    use crate::format::{MIN_VERSION, VERSION};
    Error::UnsupportedVersion {
        detail: format!(
            "{}: this build reads format versions {MIN_VERSION} to {VERSION}; open the \
             store with a release that knows version {found}",
            file.display()
        ),
        found: u64::from(found),
    }
}

/// The store refuses writes: `why` (what failed first, naming the file).
pub(crate) fn poisoned(why: &str) -> Error {
    Error::Poisoned {
        detail: why.to_owned(),
    }
}

/// A blocking task panicked or was cancelled.
pub(crate) fn task_failed(e: tokio::task::JoinError) -> Error {
    Error::backend(NAME, e)
}

/// A thread the store needs could not be started.
pub(crate) fn spawn_failed(e: io::Error) -> Error {
    Error::backend(NAME, e)
}
