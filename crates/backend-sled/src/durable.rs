//! A flush that reaches the device: sled's own flush, then an fsync of every file sled
//! writes and of their directories.
//!
//! sled 0.34's `Db::flush` ends in `sync_file_range` on Linux, which flushes neither the
//! drive's cache nor the file's metadata (so a log that grew can lose its tail on power
//! loss), and it never syncs the `blobs/` files that hold large values or the directory
//! entries of new files. [`Syncer::flush`] adds what is missing: `fdatasync` of the log
//! `db`, and `fsync` of every file written once (`conf`, blob files: written once under
//! a name never reused) and of the directories, when they are new since the last flush.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend_api::{Error, Result};
use parking_lot::Mutex;

use crate::error::{io_err_at, sled_err_at};

/// Makes a store's acknowledged writes durable. One per handle; clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Syncer {
    path: Arc<PathBuf>,
    /// What earlier flushes of this handle already made durable. The mutex also
    /// serialises concurrent flushes: one that waited finds the previous one's work done.
    synced: Arc<Mutex<Synced>>,
}

/// The names (files and directory entries) already fsynced.
#[derive(Debug, Default)]
struct Synced {
    /// Entries of the store's directory whose directory entry is durable.
    top: HashSet<OsString>,
    /// Blob files fsynced (and their entries in `blobs/`), still present.
    blobs: HashSet<OsString>,
}

impl Syncer {
    pub(crate) fn new(path: &Path) -> Self {
        Syncer {
            path: Arc::new(path.to_path_buf()),
            synced: Arc::default(),
        }
    }

    /// sled's flush, then the fsyncs it leaves out. Blocking.
    ///
    /// Every flush syncs the log file `db` (`fdatasync`: its data and the size it grew
    /// to). Files written once (`conf`, blobs, sled's snapshot files, which sled syncs
    /// itself) and the directories are synced only when they are new since this
    /// handle's last flush, found by listing the directories (no I/O to the device).
    pub(crate) fn flush(&self, db: &sled::Db) -> Result<()> {
        db.flush()
            .map_err(|e| sled_err_at("flush", &self.path, e))?;
        let mut synced = self.synced.lock();
        let log = self.path.join("db");
        File::open(&log)
            .and_then(|f| f.sync_data())
            .map_err(|e| at(&log, e))?;
        let blobs = self.path.join("blobs");
        if blobs.is_dir() {
            let (names, new) = list_new(&blobs, &synced.blobs)?;
            for name in &new {
                match sync(&blobs.join(name)) {
                    // sled removed a blob it no longer needs meanwhile.
                    Err(Error::Io { source: e, .. }) if e.kind() == io::ErrorKind::NotFound => {}
                    other => other?,
                }
            }
            if !new.is_empty() {
                sync(&blobs)?;
            }
            synced.blobs = names;
        }
        let (names, new) = list_new(&self.path, &synced.top)?;
        if !new.is_empty() {
            for name in new.iter().filter(|n| *n == "conf") {
                sync(&self.path.join(name))?;
            }
            sync(&self.path)?;
        }
        synced.top = names;
        Ok(())
    }
}

/// Every entry of `dir`, and those not in `known`.
fn list_new(dir: &Path, known: &HashSet<OsString>) -> Result<(HashSet<OsString>, Vec<OsString>)> {
    let mut names = HashSet::with_capacity(known.len() + 1);
    let mut new = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| at(dir, e))? {
        let name = entry.map_err(|e| at(dir, e))?.file_name();
        if !known.contains(&name) {
            new.push(name.clone());
        }
        names.insert(name);
    }
    Ok((names, new))
}

/// `fsync` of a file or directory.
fn sync(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| at(path, e))
}

/// An I/O error of a flush step that names its path and keeps the OS error as source.
fn at(path: &Path, error: io::Error) -> Error {
    io_err_at("flush", path, error)
}
