//! The store directory: file names, and every file operation through the store's
//! [`Vfs`], each error naming the path it happened on.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend_api::Result;

use crate::error::{IoAt, lock_failed};
use crate::io::{OpenMode, Vfs, VfsFile, VfsLock};

/// The lock file, held with an exclusive OS lock while a handle is open.
pub const LOCK_NAME: &str = "LOCK";
/// The merge manifest: present only while a committed merge is being finished.
pub const MANIFEST_NAME: &str = "MERGE";
/// Suffix of files not yet committed (deleted on open unless a manifest names them).
pub const TMP_SUFFIX: &str = ".tmp";

/// What a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `<id>.data`
    Data,
    /// `<id>.hint`
    Hint,
}

/// `0000000000000001.data`
pub fn data_name(id: u64) -> String {
    format!("{id:016x}.data")
}

/// `0000000000000001.hint`
pub fn hint_name(id: u64) -> String {
    format!("{id:016x}.hint")
}

/// `name` + `.tmp`
pub fn tmp_name(name: &str) -> String {
    format!("{name}{TMP_SUFFIX}")
}

/// Parses `<16 hex digits>.data` / `.hint`.
pub fn parse_name(name: &str) -> Option<(u64, FileType)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 16 || !stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u64::from_str_radix(stem, 16).ok()?;
    match ext {
        "data" => Some((id, FileType::Data)),
        "hint" => Some((id, FileType::Hint)),
        _ => None,
    }
}

/// The store's directory and the filesystem it lives on. Names are relative to it.
#[derive(Clone, Debug)]
pub struct Dir {
    path: PathBuf,
    vfs: Arc<dyn Vfs>,
}

impl Dir {
    /// The directory `path` on `vfs`.
    pub fn new(path: &Path, vfs: Arc<dyn Vfs>) -> Self {
        Dir {
            path: path.to_path_buf(),
            vfs,
        }
    }

    /// `dir/name`
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates the directory (and its parents) if missing.
    pub fn create(&self) -> Result<()> {
        self.vfs.create_dir_all(&self.path).at(&self.path)
    }

    /// Opens `name`.
    pub fn open(&self, name: &str, mode: OpenMode) -> Result<Handle> {
        let path = self.join(name);
        let file = self.vfs.open(&path, mode).at(&path)?;
        Ok(Handle { path, file })
    }

    /// True if `name` exists.
    pub fn exists(&self, name: &str) -> Result<bool> {
        let path = self.join(name);
        self.vfs.exists(&path).at(path)
    }

    /// Renames `from` to `to` (durable after [`Dir::sync`]).
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let from = self.join(from);
        self.vfs.rename(&from, &self.join(to)).at(from)
    }

    /// Removes `name`; a missing one is fine (durable after [`Dir::sync`]).
    pub fn remove_if_exists(&self, name: &str) -> Result<()> {
        let path = self.join(name);
        match self.vfs.remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).at(path),
            _ => Ok(()),
        }
    }

    /// Makes creations, renames and removals in the directory durable.
    pub fn sync(&self) -> Result<()> {
        self.vfs.sync_dir(&self.path).at(&self.path)
    }

    /// The names in the directory.
    pub fn list(&self) -> Result<Vec<String>> {
        self.vfs.read_dir(&self.path).at(&self.path)
    }

    /// Takes the store's exclusive lock; `Error::Locked` if another handle or process
    /// holds it.
    pub fn lock(&self) -> Result<Box<dyn VfsLock>> {
        let path = self.join(LOCK_NAME);
        self.vfs
            .lock(&path)
            .map_err(|e| lock_failed(&self.path, &path, e))
    }

    /// Creates `name` durably with `contents` written by `fill`: written and synced under
    /// the temporary name, renamed into place, directory synced. A file of that name
    /// therefore always holds all of `contents` or does not exist.
    pub fn create_durably(
        &self,
        name: &str,
        fill: impl FnOnce(&Handle) -> Result<()>,
    ) -> Result<Handle> {
        let tmp = tmp_name(name);
        let file = self.open(&tmp, OpenMode::CreateTruncate)?;
        fill(&file)?;
        file.sync_data()?;
        self.rename(&tmp, name)?;
        self.sync()?;
        Ok(Handle {
            path: self.join(name),
            file: file.file,
        })
    }
}

/// An open file and its path, which every error names.
#[derive(Debug)]
pub struct Handle {
    path: PathBuf,
    file: Box<dyn VfsFile>,
}

impl Handle {
    /// The path the file was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, for readers that report errors themselves.
    pub fn raw(&self) -> &dyn VfsFile {
        &*self.file
    }

    /// Fills `buf` from `offset`; a file too short is an `UnexpectedEof` I/O error.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.file.read_exact_at(buf, offset).at(&self.path)
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.file.write_all_at(buf, offset).at(&self.path)
    }

    /// `fdatasync`.
    pub fn sync_data(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    /// Cuts or zero-extends the file.
    pub fn set_len(&self, len: u64) -> Result<()> {
        self.file.set_len(len).at(&self.path)
    }

    /// The length in bytes.
    pub fn len(&self) -> Result<u64> {
        self.file.len().at(&self.path)
    }
}
