//! [`SimDisk`]: a simulated disk for power-loss and fault tests (feature `sim-disk`).
//!
//! It keeps what was written apart from what was synced. Every write is visible to
//! readers at once (as after `write(2)`: it survives a process kill); it becomes
//! durable only when a `sync_data` of its file succeeds. Creations, renames and
//! removals become durable only when their directory is synced. A **power cut**
//! ([`SimDisk::cut_now`], or armed with [`SimDisk::cut_at_call`] to strike in the
//! middle of any procedure, on any thread) keeps the synced state plus, per
//! [`CrashOptions`], a prefix of each file's unsynced writes (the last one torn at any
//! byte or at a sector boundary, files reordered or not) and possibly a prefix of the
//! unsynced directory operations. After a cut every handle and every [`Vfs`] handed out
//! before it fails with `EIO`, so a store still running on the old disk changes
//! nothing; [`SimDisk::restart`] brings the disk back with what survived.
//!
//! Any call can be made to fail with `EIO` or `ENOSPC` ([`SimDisk::fail_call`] by its
//! index, [`SimDisk::fail_nth`] by kind, [`SimDisk::fail_every`]). A failing write may
//! leave a prefix of its bytes behind, as a real short write does; a failing
//! `sync_data` makes the writes it should have covered **never** durable, even if a
//! later sync succeeds (what Linux does after a writeback error: the PostgreSQL
//! "fsyncgate" lesson), while they stay readable until the power is cut.
//!
//! Every choice (tears, prefixes, short writes) comes from the seed given to
//! [`SimDisk::new`]: the same seed and the same calls in the same order give the same
//! disk. Models: redb's crash-consistency backend (`tests/crash_consistency.rs`: live
//! vs durable bytes) and RocksDB's `FaultInjectionTestFS` (unsynced data dropped,
//! files created after the last directory sync dropped, injected errors).
//!
//! Directories themselves are durable as soon as created.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Vfs;

mod crash;
mod disk;
#[cfg(test)]
mod tests;
mod vfs;

pub use crash::{CrashOptions, Rng, Tear};
use disk::Fs;

/// The kinds of call a [`SimDisk`] counts and can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    /// [`Vfs::open`]
    Open,
    /// [`Vfs::exists`]
    Exists,
    /// [`Vfs::rename`]
    Rename,
    /// [`Vfs::remove_file`]
    Remove,
    /// [`Vfs::create_dir_all`]
    CreateDir,
    /// [`Vfs::read_dir`]
    ReadDir,
    /// [`Vfs::sync_dir`]
    SyncDir,
    /// [`Vfs::lock`]
    Lock,
    /// [`VfsFile::read_exact_at`]
    Read,
    /// [`VfsFile::write_all_at`]
    Write,
    /// [`VfsFile::sync_data`]
    SyncData,
    /// [`VfsFile::set_len`]
    SetLen,
    /// [`VfsFile::len`]
    Len,
}

impl CallKind {
    /// Every kind.
    pub const ALL: [CallKind; 13] = [
        CallKind::Open,
        CallKind::Exists,
        CallKind::Rename,
        CallKind::Remove,
        CallKind::CreateDir,
        CallKind::ReadDir,
        CallKind::SyncDir,
        CallKind::Lock,
        CallKind::Read,
        CallKind::Write,
        CallKind::SyncData,
        CallKind::SetLen,
        CallKind::Len,
    ];
}

/// An injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

impl Fault {
    /// The OS error it stands for.
    pub fn error(self) -> io::Error {
        io::Error::from_raw_os_error(match self {
            Fault::Eio => 5,
            Fault::Enospc => 28,
        })
    }
}

/// One call the disk saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Its index among all calls since the disk was made (power cuts do not reset it).
    pub index: u64,
    /// What it was.
    pub kind: CallKind,
    /// The path it named (a file call: the path the file was opened by).
    pub path: PathBuf,
    /// The failure injected, if any.
    pub fault: Option<Fault>,
}

/// When an injected failure strikes.
#[derive(Clone, Copy, Debug)]
enum When {
    Call(u64),
    Nth(CallKind, u64),
    Every(CallKind),
}

enum Power {
    On,
    /// Cut when the call with this index arrives (it fails).
    CutAt(u64),
    /// Cut; what survived.
    Off(crash::Image),
}

struct State {
    fs: Fs,
    epoch: u64,
    power: Power,
    rng: Rng,
    crash: CrashOptions,
    short_writes: bool,
    calls: u64,
    per_kind: HashMap<CallKind, u64>,
    faults: Vec<(When, Fault)>,
    trace: Vec<CallRecord>,
    cuts: u64,
    locks: HashMap<PathBuf, u64>,
    next_lock: u64,
}

impl State {
    /// Admits a call from a handle of `epoch`: counts it, cuts the power if armed for
    /// it, and says which failure to inject.
    fn admit(&mut self, epoch: u64, kind: CallKind, path: &Path) -> io::Result<Option<Fault>> {
        if epoch != self.epoch {
            return Err(io::Error::other(
                "simulated disk: handle from before a power cut",
            ));
        }
        if let Power::CutAt(at) = self.power
            && self.calls >= at
        {
            self.cut();
        }
        if let Power::Off(_) = self.power {
            return Err(io::Error::other("simulated disk: the power is off"));
        }
        let index = self.calls;
        self.calls += 1;
        let nth = self.per_kind.entry(kind).or_default();
        let n = *nth;
        *nth += 1;
        let fault = self
            .faults
            .iter()
            .find(|(w, _)| match *w {
                When::Call(i) => i == index,
                When::Nth(k, i) => k == kind && i == n,
                When::Every(k) => k == kind,
            })
            .map(|f| f.1);
        self.trace.push(CallRecord {
            index,
            kind,
            path: path.to_path_buf(),
            fault,
        });
        Ok(fault)
    }

    fn cut(&mut self) {
        let image = crash::image(&self.fs, &self.crash, &mut self.rng);
        self.power = Power::Off(image);
        self.cuts += 1;
    }
}

/// A simulated disk. Cloning shares the disk.
///
/// ```
/// # use std::path::Path;
/// use backend_file::io::{OpenMode, Vfs, sim::SimDisk};
///
/// let disk = SimDisk::new(7);
/// let fs = disk.vfs();
/// fs.create_dir_all(Path::new("/d"))?;
/// let f = fs.open(Path::new("/d/a"), OpenMode::CreateTruncate)?;
/// f.write_all_at(b"synced", 0)?;
/// f.sync_data()?;
/// fs.sync_dir(Path::new("/d"))?;
/// f.write_all_at(b" and not", 6)?;
/// disk.restart(); // a power cut, then power back on
/// let data = disk.file(Path::new("/d/a")).unwrap();
/// assert!(data.starts_with(b"synced") && data.len() <= 14);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("SimDisk")
            .field("epoch", &s.epoch)
            .field("calls", &s.calls)
            .field("files", &s.fs.names.len())
            .finish()
    }
}

impl SimDisk {
    /// An empty disk; every random choice it makes comes from `seed`. Power cuts use
    /// [`CrashOptions::default`] until [`SimDisk::set_crash_options`].
    pub fn new(seed: u64) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(State {
                fs: Fs::default(),
                epoch: 0,
                power: Power::On,
                rng: Rng::new(seed),
                crash: CrashOptions::default(),
                short_writes: true,
                calls: 0,
                per_kind: HashMap::new(),
                faults: Vec::new(),
                trace: Vec::new(),
                cuts: 0,
                locks: HashMap::new(),
                next_lock: 0,
            })),
        }
    }

    /// A filesystem on this disk, valid until the next power cut.
    pub fn vfs(&self) -> Arc<dyn Vfs> {
        Arc::new(vfs::SimVfs {
            state: self.state.clone(),
            epoch: self.state.lock().epoch,
        })
    }

    /// What the next power cuts may keep.
    pub fn set_crash_options(&self, opts: CrashOptions) {
        self.state.lock().crash = opts;
    }

    /// Whether an injected write failure leaves a random prefix of its bytes behind
    /// (default true).
    pub fn set_short_writes(&self, on: bool) {
        self.state.lock().short_writes = on;
    }

    /// Cuts the power now: the surviving state is fixed, every later call fails.
    pub fn cut_now(&self) {
        let mut s = self.state.lock();
        if !matches!(s.power, Power::Off(_)) {
            s.cut();
        }
    }

    /// Arms a power cut when call number `index` arrives (0-based, counted over the
    /// disk's life as [`SimDisk::calls`] does): calls before it run, it and every later
    /// call fail.
    pub fn cut_at_call(&self, index: u64) {
        let mut s = self.state.lock();
        if matches!(s.power, Power::On) {
            s.power = Power::CutAt(index);
        }
    }

    /// True once the power is cut (and until [`SimDisk::restart`]); an armed cut whose
    /// call index has been reached counts as cut.
    pub fn is_off(&self) -> bool {
        let mut s = self.state.lock();
        if let Power::CutAt(at) = s.power
            && s.calls >= at
        {
            s.cut();
        }
        matches!(s.power, Power::Off(_))
    }

    /// Power back on (cutting it first if it is on): the disk holds what the cut kept,
    /// all synced; handles from before fail; locks are released; no failure is armed.
    pub fn restart(&self) {
        let mut s = self.state.lock();
        if !matches!(s.power, Power::Off(_)) {
            s.cut();
        }
        let Power::Off(image) = std::mem::replace(&mut s.power, Power::On) else {
            unreachable!("cut above")
        };
        let mut fs = Fs {
            dirs: std::mem::take(&mut s.fs.dirs),
            next_inode: s.fs.next_inode,
            order: s.fs.order,
            ..Fs::default()
        };
        for (id, data) in image.inodes {
            let node = fs.inodes.entry(id).or_default();
            node.live.clone_from(&data);
            node.durable = data;
        }
        fs.durable_names.clone_from(&image.names);
        fs.names = image.names;
        s.fs = fs;
        s.epoch += 1;
        s.locks.clear();
        s.faults.clear();
    }

    /// Fails the call with this index (see [`SimDisk::calls`]) with `fault`.
    pub fn fail_call(&self, index: u64, fault: Fault) {
        self.state.lock().faults.push((When::Call(index), fault));
    }

    /// Fails the `n`-th call (0-based) of `kind`, counted over the disk's life like
    /// [`SimDisk::calls_of`].
    pub fn fail_nth(&self, kind: CallKind, n: u64, fault: Fault) {
        self.state.lock().faults.push((When::Nth(kind, n), fault));
    }

    /// Fails every call of `kind` until [`SimDisk::clear_faults`].
    pub fn fail_every(&self, kind: CallKind, fault: Fault) {
        self.state.lock().faults.push((When::Every(kind), fault));
    }

    /// Removes every armed failure.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// Calls made so far (also the index the next call gets).
    pub fn calls(&self) -> u64 {
        self.state.lock().calls
    }

    /// Calls of `kind` made so far.
    pub fn calls_of(&self, kind: CallKind) -> u64 {
        self.state.lock().per_kind.get(&kind).copied().unwrap_or(0)
    }

    /// Power cuts so far.
    pub fn cuts(&self) -> u64 {
        self.state.lock().cuts
    }

    /// Every call so far, in order.
    pub fn trace(&self) -> Vec<CallRecord> {
        self.state.lock().trace.clone()
    }

    /// Calls with an injected failure so far.
    pub fn injected(&self) -> Vec<CallRecord> {
        let s = self.state.lock();
        s.trace
            .iter()
            .filter(|c| c.fault.is_some())
            .cloned()
            .collect()
    }

    /// The bytes readers see in the file at `path` (not a counted call).
    pub fn file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state.lock();
        let id = s.fs.names.get(path)?;
        Some(
            s.fs.inodes
                .get(id)
                .map(|n| n.live.clone())
                .unwrap_or_default(),
        )
    }

    /// Overwrites (or creates) the file at `path` with `data`, durably, as a tool
    /// outside the store would on a quiet disk (not a counted call).
    pub fn put_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut s = self.state.lock();
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let id = s.fs.create_truncate(path)?;
        s.fs.write(id, 0, data);
        s.fs.sync(id, true);
        s.fs.sync_dir(&dir)
    }

    /// The names of the files in `dir`, sorted (not a counted call).
    pub fn list(&self, dir: &Path) -> Vec<String> {
        let mut v = self.state.lock().fs.read_dir(dir).unwrap_or_default();
        v.sort();
        v
    }
}
