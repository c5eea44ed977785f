//! The store: engine state and the write path, with no `StorageBackend` in sight.
//!
//! [`Store`] holds the keydir, the single writer, group commit, the watch hub and the
//! bookkeeping of background work. The trait adapter (`backend.rs`), the scan producer
//! (`scan.rs`), sealing (`seal.rs`) and merging (`merge.rs`) build on it; it depends on
//! none of them.
//!
//! - [`write`]: the three write paths (one record, a list of records, a checked batch);
//! - [`append`]: encoding, rotation, the append itself, the keydir update, watchers;
//! - [`read`]: point reads, each record checked against the keydir;
//! - [`durable`]: waiting for group commit, the periodic sync;
//! - [`status`]: the figures `status()` reports;
//! - [`background`]: what the store hands to its background thread.
//!
//! Lock order: hint lock, then merge lock, then the writer lock, then the keydir.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backend_api::{Capabilities, Error, Partition, Result};
use backend_support::{WatchHub, ttl};
use parking_lot::{Mutex, RwLock};

use crate::cache::ValueCache;
use crate::commit::GroupCommit;
use crate::config::FileConfig;
use crate::files::Dir;
use crate::format::Limits;
use crate::io::VfsLock;
use crate::keydir::{PartState, State};
use crate::recovery::{RecoveryReport, recover};
use crate::writer::Writer;

pub(crate) mod append;
pub(crate) mod background;
pub(crate) mod durable;
pub(crate) mod read;
pub(crate) mod status;
pub(crate) mod write;

pub use background::{Background, MergeStats, Sealed};
pub use write::Written;

/// Shared state of one open store.
pub(crate) struct Store {
    pub cfg: FileConfig,
    pub caps: Capabilities,
    /// The store's directory, through the configured filesystem.
    pub dir: Dir,
    /// Limits every length read back from disk is checked against.
    pub limits: Limits,
    pub state: RwLock<State>,
    pub writer: Mutex<Writer>,
    pub commit: GroupCommit,
    pub closed: AtomicBool,
    /// The directory's exclusive lock, released by close.
    pub lock: Mutex<Option<Box<dyn VfsLock>>>,
    pub watch: WatchHub,
    pub report: RecoveryReport,
    /// Sealed files, hints, the spare file, merges: the background's share.
    pub bg: Background,
    /// Values read from disk, by record location (see [`crate::cache`]).
    pub cache: ValueCache,
}

impl Store {
    /// Opens (creating if needed) the store in `cfg.dir`: lock, recovery, state. Blocking.
    pub fn open(cfg: FileConfig) -> Result<Arc<Store>> {
        cfg.validate()?;
        let dir = Dir::new(&cfg.dir, cfg.vfs().clone());
        let limits = cfg.limits();
        let mut rec = recover(&cfg, &dir, &limits)?;
        // Recovery's temporaries are gone: give their pages back.
        crate::heap::release_free_memory();
        // No active file: the first write starts a new one (open never appends to a
        // file it found).
        let writer = Writer::new(rec.next_seq, rec.next_file_id, rec.next_pid);
        let bg = Background::default();
        for (id, file, len) in rec.unhinted.drain(..) {
            bg.hints.lock().push_back(Sealed { id, file, len });
        }
        Ok(Arc::new(Store {
            watch: WatchHub::new(cfg.watch_capacity),
            caps: cfg.capabilities(),
            dir,
            limits,
            state: RwLock::new(rec.state),
            writer: Mutex::new(writer),
            commit: GroupCommit::default(),
            closed: AtomicBool::new(false),
            lock: Mutex::new(Some(rec.lock)),
            report: rec.report,
            bg,
            cache: ValueCache::new(cfg.value_cache_bytes),
            cfg,
        }))
    }

    /// `Err(Closed)` once closed.
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// `Err(Closed)` or `Err(Poisoned)` when the store takes no writes.
    pub fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        self.commit.check()
    }

    /// Partition `p` in `st`, or `PartitionNotFound`.
    pub fn part<'s>(st: &'s State, p: &Partition) -> Result<&'s PartState> {
        st.parts
            .get(p.name())
            .ok_or_else(|| Error::PartitionNotFound(p.name().to_owned()))
    }
}

/// True when `key` has a live (unexpired) entry in `p`.
pub(crate) fn live_in(p: &PartState, key: &[u8]) -> bool {
    p.keys()
        .get(key)
        .is_some_and(|e| e.expiry == 0 || !e.expired(ttl::now_ms()))
}
