//! The [`Vfs`], [`VfsFile`] and [`VfsLock`] of a [`SimDisk`](super::SimDisk): every call
//! is admitted by the disk (counted, maybe failed, refused after a power cut), then run
//! on its live state.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{CallKind, State};
use crate::io::{OpenMode, Vfs, VfsFile, VfsLock};

/// A filesystem on a [`SimDisk`], valid until the next power cut.
pub(super) struct SimVfs {
    pub(super) state: Arc<Mutex<State>>,
    pub(super) epoch: u64,
}

impl fmt::Debug for SimVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimVfs")
            .field("epoch", &self.epoch)
            .finish()
    }
}

impl SimVfs {
    /// Runs a call: admitted (counted, maybe failed) then `op` on the live state.
    fn call<T>(
        &self,
        kind: CallKind,
        path: &Path,
        op: impl FnOnce(&mut State) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut s = self.state.lock();
        match s.admit(self.epoch, kind, path)? {
            Some(fault) => Err(fault.error()),
            None => op(&mut s),
        }
    }
}

impl Vfs for SimVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        let inode = self.call(CallKind::Open, path, |s| match mode {
            OpenMode::Read | OpenMode::ReadWrite => s.fs.lookup(path),
            OpenMode::CreateTruncate => s.fs.create_truncate(path),
        })?;
        Ok(Box::new(SimFile {
            state: self.state.clone(),
            epoch: self.epoch,
            inode,
            path: path.to_path_buf(),
            writable: mode != OpenMode::Read,
        }))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.call(CallKind::Exists, path, |s| Ok(s.fs.exists(path)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.call(CallKind::Rename, from, |s| s.fs.rename(from, to))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.call(CallKind::Remove, path, |s| s.fs.remove(path))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.call(CallKind::CreateDir, path, |s| s.fs.create_dir_all(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.call(CallKind::ReadDir, path, |s| s.fs.read_dir(path))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.call(CallKind::SyncDir, path, |s| s.fs.sync_dir(path))
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>> {
        let token = self.call(CallKind::Lock, path, |s| {
            if s.fs.lookup(path).is_err() {
                s.fs.create_truncate(path)?;
            }
            if s.locks.contains_key(path) {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "simulated disk: the lock is held",
                ));
            }
            let token = s.next_lock;
            s.next_lock += 1;
            s.locks.insert(path.to_path_buf(), token);
            Ok(token)
        })?;
        Ok(Box::new(SimLock {
            state: self.state.clone(),
            epoch: self.epoch,
            path: path.to_path_buf(),
            token,
        }))
    }
}

/// An open file of a [`SimDisk`].
struct SimFile {
    state: Arc<Mutex<State>>,
    epoch: u64,
    inode: u64,
    path: PathBuf,
    writable: bool,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFile").field("path", &self.path).finish()
    }
}

impl SimFile {
    /// Admits a call; on an injected failure runs `failed` (its partial effect) first.
    fn call<T>(
        &self,
        kind: CallKind,
        op: impl FnOnce(&mut State) -> io::Result<T>,
        failed: impl FnOnce(&mut State),
    ) -> io::Result<T> {
        let mut s = self.state.lock();
        match s.admit(self.epoch, kind, &self.path)? {
            Some(fault) => {
                failed(&mut s);
                Err(fault.error())
            }
            None => op(&mut s),
        }
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(9)) // EBADF
        }
    }
}

impl VfsFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.call(
            CallKind::Read,
            |s| s.fs.read(self.inode, buf, offset),
            |_| {},
        )
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_writable()?;
        self.call(
            CallKind::Write,
            |s| {
                s.fs.write(self.inode, offset, buf);
                Ok(())
            },
            |s| {
                // A short write: some bytes made it before the failure.
                if s.short_writes {
                    let n = s.rng.below(buf.len() as u64 + 1) as usize;
                    if n > 0 {
                        s.fs.write(self.inode, offset, &buf[..n]);
                    }
                }
            },
        )
    }

    fn sync_data(&self) -> io::Result<()> {
        self.call(
            CallKind::SyncData,
            |s| {
                s.fs.sync(self.inode, true);
                Ok(())
            },
            // The writes it should have made durable never will be.
            |s| s.fs.sync(self.inode, false),
        )
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        self.call(
            CallKind::SetLen,
            |s| {
                s.fs.set_len(self.inode, len);
                Ok(())
            },
            |_| {},
        )
    }

    fn len(&self) -> io::Result<u64> {
        self.call(CallKind::Len, |s| Ok(s.fs.len(self.inode)), |_| {})
    }
}

/// A lock held on a [`SimDisk`]; released when dropped or by a power cut.
struct SimLock {
    state: Arc<Mutex<State>>,
    epoch: u64,
    path: PathBuf,
    token: u64,
}

impl fmt::Debug for SimLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimLock").field("path", &self.path).finish()
    }
}

impl VfsLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        if s.epoch == self.epoch && s.locks.get(&self.path) == Some(&self.token) {
            s.locks.remove(&self.path);
        }
    }
}
