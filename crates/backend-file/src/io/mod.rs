//! All file I/O of the store, behind one small object-safe trait.
//!
//! Every file and directory operation the engine makes goes through a [`Vfs`] (the
//! filesystem) and the [`VfsFile`]s it opens, so a test can swap the real filesystem
//! ([`RealFs`], the default) for a simulated disk that keeps written data apart from
//! synced data, cuts the power, or fails a chosen call with `EIO` or `ENOSPC`.
//!
//! # What the engine relies on
//!
//! An implementation must behave like a POSIX filesystem on Linux:
//!
//! - [`VfsFile::write_at`] writes all of `buf` or fails; after it returns the bytes are
//!   visible to every reader of the file (they survive a process kill), but not
//!   necessarily a power loss.
//! - [`VfsFile::sync_data`] makes every byte written to the file before the call durable,
//!   and the file's length with it. An error means the effect is unknown: the engine
//!   never retries it as if a later success covered the earlier writes.
//! - [`VfsFile::set_len`] past the end extends the file with zero bytes.
//! - [`Vfs::rename`] atomically replaces `to`; it and file creation and removal become
//!   durable only after [`Vfs::sync_dir`] on the parent directory.
//! - [`Vfs::lock`] takes an exclusive advisory lock held until the returned guard drops;
//!   a lock held elsewhere fails with [`std::io::ErrorKind::WouldBlock`].
//!
//! The engine never asks for more: no mmap, no `O_APPEND`, no `O_DIRECT`.

use std::fmt::Debug;
use std::io;
use std::path::Path;

mod real;
#[cfg(any(test, feature = "sim-disk"))]
pub mod sim;

pub use real::RealFs;

/// How [`Vfs::open`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing file, read only.
    Read,
    /// An existing file, read and write.
    ReadWrite,
    /// A new empty file for read and write, truncating any file of that name.
    CreateTruncate,
}

/// A filesystem: opens files and changes directories.
///
/// Object-safe: the store holds an `Arc<dyn Vfs>`. Paths are those the engine builds
/// from [`FileConfig::dir`](crate::FileConfig::dir).
pub trait Vfs: Send + Sync + Debug {
    /// Opens `path` as `mode` says.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>>;

    /// True if something exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Renames `from` to `to`, atomically replacing `to` (durable after [`Vfs::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes the file at `path` (durable after [`Vfs::sync_dir`]). A missing file is
    /// an error of kind [`io::ErrorKind::NotFound`].
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Creates `path` and any missing parents; an existing directory is fine.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;

    /// The names of the entries of directory `path`, in no particular order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;

    /// Makes the creations, renames and removals in directory `path` durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;

    /// Takes an exclusive lock on the file at `path` (created if missing), held until the
    /// guard drops. Held elsewhere: an error of kind [`io::ErrorKind::WouldBlock`].
    fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>>;
}

/// An open file: positioned reads and writes, sync, length.
#[allow(clippy::len_without_is_empty)]
pub trait VfsFile: Send + Sync + Debug {
    /// Reads exactly `buf.len()` bytes at `offset`; fewer bytes in the file is an error of
    /// kind [`io::ErrorKind::UnexpectedEof`].
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// Like [`VfsFile::read_exact_at`], but only if it needs no wait for the device (the
    /// bytes are in the OS page cache): `Ok(false)` means it would have waited, and the
    /// caller makes the read on a thread that may block. The default reads and answers
    /// `Ok(true)` (a disk that never makes a reader wait).
    fn read_exact_at_nowait(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        self.read_exact_at(buf, offset).map(|()| true)
    }

    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// Makes every byte written before the call, and the length, durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;

    /// Sets the length: cuts the file or extends it with zeros. Durable after
    /// [`VfsFile::sync_data`].
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// The current length in bytes.
    fn len(&self) -> io::Result<u64>;
}

/// A held exclusive lock; dropping it releases the lock.
pub trait VfsLock: Send + Sync + Debug {}
