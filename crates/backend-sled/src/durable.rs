//! A flush that reaches the device: sled's own flush, then an fsync of every file sled
//! writes and of their directories.
//!
//! sled 0.34's `Db::flush` ends in `sync_file_range` on Linux, which flushes neither the
//! drive's cache nor the file's metadata (so a log that grew can lose its tail on power
//! loss), and it never syncs the `blobs/` files that hold large values or the directory
//! entries of new files. [`Syncer::flush`] adds what is missing: `fsync` of `db` and
//! `conf`, of every blob file not synced by an earlier flush of this handle (blob files
//! are written once, under a name never reused), and of `blobs/` and the store's
//! directory.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend_api::{Error, Result};
use parking_lot::Mutex;

use crate::error::sled_err;

/// Makes a store's acknowledged writes durable. One per handle; clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Syncer {
    path: Arc<PathBuf>,
    /// Blob files already fsynced (and still present), by name. Also serialises
    /// concurrent flushes: a flush that waited finds the previous one's work done.
    synced_blobs: Arc<Mutex<HashSet<OsString>>>,
}

impl Syncer {
    pub(crate) fn new(path: &Path) -> Self {
        Syncer {
            path: Arc::new(path.to_path_buf()),
            synced_blobs: Arc::default(),
        }
    }

    /// sled's flush, then the fsyncs it leaves out. Blocking.
    pub(crate) fn flush(&self, db: &sled::Db) -> Result<()> {
        db.flush().map_err(sled_err)?;
        let mut synced = self.synced_blobs.lock();
        for name in ["db", "conf"] {
            let file = self.path.join(name);
            if file.exists() {
                sync(&file)?;
            }
        }
        let blobs = self.path.join("blobs");
        if blobs.is_dir() {
            let mut present = HashSet::with_capacity(synced.len());
            for entry in std::fs::read_dir(&blobs).map_err(|e| at(&blobs, e))? {
                let name = entry.map_err(|e| at(&blobs, e))?.file_name();
                if !synced.contains(&name) {
                    match sync(&blobs.join(&name)) {
                        // sled removed a blob it no longer needs meanwhile.
                        Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => continue,
                        other => other?,
                    }
                }
                present.insert(name);
            }
            *synced = present;
            sync(&blobs)?;
        }
        sync(&self.path)
    }
}

/// `fsync` of a file or directory.
fn sync(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| at(path, e))
}

/// An I/O error that names its path.
fn at(path: &Path, error: io::Error) -> Error {
    Error::Io(io::Error::new(
        error.kind(),
        format!("fsync of {}: {error}", path.display()),
    ))
}
