//! File names in a store directory and small durable-filesystem helpers.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

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

/// Fsyncs a directory so renames, creations and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes a file; a missing one is fine.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Creates (truncating) a file for writing and reading.
pub fn create_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// `dir/name`
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Attaches the file or directory an I/O error happened on.
pub(crate) trait IoAt<T> {
    /// `Error::Io` naming `path`.
    fn at(self, path: impl AsRef<Path>) -> backend_api::Result<T>;
}

impl<T> IoAt<T> for io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> backend_api::Result<T> {
        self.map_err(|e| backend_api::Error::io(path.as_ref(), e))
    }
}
