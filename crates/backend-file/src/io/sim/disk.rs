//! The state of a simulated disk: files (inodes) with their written and their synced
//! bytes, the live and the durable directory trees, and the operations not yet synced.
//!
//! Every operation is applied to the live state at once (what a reader sees, what
//! survives a process kill). Data operations on a file are also queued on that file
//! until a successful `sync_data` moves them into its durable bytes; directory
//! operations are queued on their directory until `sync_dir`. A failed `sync_data`
//! drops the queued operations from the durable path for good (the pages are "clean"
//! but never reached the disk: the fsyncgate behaviour of Linux), while their bytes stay
//! readable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

/// A data operation not yet synced.
#[derive(Clone, Debug)]
pub(super) enum Pending {
    /// `bytes` written at `offset`.
    Write { offset: u64, bytes: Vec<u8> },
    /// The length set.
    SetLen(u64),
}

impl Pending {
    /// Applies the operation to `data`.
    pub(super) fn apply(&self, data: &mut Vec<u8>) {
        match self {
            Pending::Write { offset, bytes } => write_at(data, *offset, bytes),
            Pending::SetLen(len) => data.resize(*len as usize, 0),
        }
    }
}

/// Writes `bytes` at `offset`, zero-filling any gap past the end.
pub(super) fn write_at(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let at = offset as usize;
    if data.len() < at + bytes.len() {
        data.resize(at + bytes.len(), 0);
    }
    data[at..at + bytes.len()].copy_from_slice(bytes);
}

/// One file's contents.
#[derive(Clone, Debug, Default)]
pub(super) struct Inode {
    /// What readers see.
    pub live: Vec<u8>,
    /// What a power cut keeps for sure.
    pub durable: Vec<u8>,
    /// Operations since the last successful sync, with their global order.
    pub pending: Vec<(u64, Pending)>,
}

/// A directory operation not yet synced.
#[derive(Clone, Debug)]
pub(super) enum DirOp {
    /// A new name for an inode (file creation).
    Link { name: PathBuf, inode: u64 },
    /// `from` renamed over `to`.
    Rename { from: PathBuf, to: PathBuf },
    /// A name removed.
    Unlink { name: PathBuf },
}

impl DirOp {
    /// The directory the operation changes.
    pub(super) fn dir(&self) -> &Path {
        let name = match self {
            DirOp::Link { name, .. } | DirOp::Unlink { name } => name,
            DirOp::Rename { to, .. } => to,
        };
        name.parent().unwrap_or(Path::new(""))
    }

    /// Applies the operation to a name table.
    pub(super) fn apply(&self, names: &mut BTreeMap<PathBuf, u64>) {
        match self {
            DirOp::Link { name, inode } => {
                names.insert(name.clone(), *inode);
            }
            DirOp::Rename { from, to } => {
                if let Some(inode) = names.remove(from) {
                    names.insert(to.clone(), inode);
                }
            }
            DirOp::Unlink { name } => {
                names.remove(name);
            }
        }
    }
}

/// Files and directories of one simulated disk, between two power cuts.
#[derive(Clone, Debug, Default)]
pub(super) struct Fs {
    /// Every inode created since the last power cut (removed ones stay: open handles
    /// may still read them).
    pub inodes: HashMap<u64, Inode>,
    pub next_inode: u64,
    /// File names as readers see them.
    pub names: BTreeMap<PathBuf, u64>,
    /// File names as the disk has them for sure.
    pub durable_names: BTreeMap<PathBuf, u64>,
    /// Directory operations since their directory's last sync, in order.
    pub dir_log: Vec<DirOp>,
    /// Directories (durable as soon as created: the simulation does not lose them).
    pub dirs: BTreeSet<PathBuf>,
    /// Global order of data operations (for crashes that keep a global prefix).
    pub order: u64,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

impl Fs {
    /// The inode named `path`.
    pub fn lookup(&self, path: &Path) -> io::Result<u64> {
        self.names.get(path).copied().ok_or_else(|| not_found(path))
    }

    fn check_parent(&self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(p) if self.dirs.contains(p) => Ok(()),
            _ => Err(not_found(path)),
        }
    }

    /// Creates `path` empty, or truncates the file of that name (same inode).
    pub fn create_truncate(&mut self, path: &Path) -> io::Result<u64> {
        if let Some(&inode) = self.names.get(path) {
            self.set_len(inode, 0);
            return Ok(inode);
        }
        self.check_parent(path)?;
        if self.dirs.contains(path) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            ));
        }
        let inode = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(inode, Inode::default());
        self.dir_op(DirOp::Link {
            name: path.to_path_buf(),
            inode,
        });
        Ok(inode)
    }

    fn dir_op(&mut self, op: DirOp) {
        op.apply(&mut self.names);
        self.dir_log.push(op);
    }

    /// Renames `from` over `to`.
    pub fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.lookup(from)?;
        self.check_parent(to)?;
        self.dir_op(DirOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }

    /// Removes the name `path`.
    pub fn remove(&mut self, path: &Path) -> io::Result<()> {
        self.lookup(path)?;
        self.dir_op(DirOp::Unlink {
            name: path.to_path_buf(),
        });
        Ok(())
    }

    /// Makes the directory operations in `dir` durable.
    pub fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        if !self.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let (now, later): (Vec<DirOp>, Vec<DirOp>) =
            self.dir_log.drain(..).partition(|op| op.dir() == dir);
        for op in &now {
            op.apply(&mut self.durable_names);
        }
        self.dir_log = later;
        Ok(())
    }

    /// Creates `path` and its parents.
    pub fn create_dir_all(&mut self, path: &Path) -> io::Result<()> {
        if self.names.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: a file is in the way", path.display()),
            ));
        }
        for dir in path.ancestors() {
            if !dir.as_os_str().is_empty() {
                self.dirs.insert(dir.to_path_buf());
            }
        }
        Ok(())
    }

    /// Names of the entries of `dir`.
    pub fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        if !self.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let files = self.names.keys();
        let subdirs = self.dirs.iter();
        Ok(files
            .chain(subdirs)
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect())
    }

    /// True if a file or directory is at `path`.
    pub fn exists(&self, path: &Path) -> bool {
        self.names.contains_key(path) || self.dirs.contains(path)
    }

    fn data_op(&mut self, inode: u64, op: Pending) {
        let order = self.order;
        self.order += 1;
        let node = self.inodes.entry(inode).or_default();
        op.apply(&mut node.live);
        node.pending.push((order, op));
    }

    /// Writes `bytes` at `offset` of `inode`.
    pub fn write(&mut self, inode: u64, offset: u64, bytes: &[u8]) {
        self.data_op(
            inode,
            Pending::Write {
                offset,
                bytes: bytes.to_vec(),
            },
        );
    }

    /// Sets the length of `inode`.
    pub fn set_len(&mut self, inode: u64, len: u64) {
        self.data_op(inode, Pending::SetLen(len));
    }

    /// Syncs `inode`: `ok` moves its queued operations into its durable bytes; a failed
    /// sync (`!ok`) drops them from the durable path for good.
    pub fn sync(&mut self, inode: u64, ok: bool) {
        let node = self.inodes.entry(inode).or_default();
        for (_, op) in node.pending.drain(..) {
            if ok {
                op.apply(&mut node.durable);
            }
        }
    }

    /// Reads `buf.len()` bytes of `inode` at `offset`.
    pub fn read(&self, inode: u64, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let live = self.inodes.get(&inode).map_or(&[][..], |n| &n.live[..]);
        let end = offset.checked_add(buf.len() as u64);
        match end {
            Some(end) if end <= live.len() as u64 => {
                buf.copy_from_slice(&live[offset as usize..end as usize]);
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "failed to fill whole buffer",
            )),
        }
    }

    /// The length of `inode`.
    pub fn len(&self, inode: u64) -> u64 {
        self.inodes.get(&inode).map_or(0, |n| n.live.len() as u64)
    }
}
