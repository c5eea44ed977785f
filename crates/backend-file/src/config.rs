//! Configuration of a [`FileBackend`](crate::FileBackend).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend_api::{Capabilities, DEFAULT_MAX_KEY_LEN, DEFAULT_MAX_VALUE_LEN, Error, Result};
use backend_support::DEFAULT_WATCH_CAPACITY;

use crate::format::{Limits, RECORD_HEADER_LEN};
use crate::io::{RealFs, Vfs};

/// Default budget of the value cache: 64 MiB.
pub const DEFAULT_VALUE_CACHE_BYTES: u64 = 64 << 20;

/// When acknowledged writes reach stable storage.
///
/// Whatever the policy, a write is in the operating system (survives a process kill)
/// before it is acknowledged; the policy decides when `fdatasync` makes it survive a
/// power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every write is durable before it is acknowledged. Concurrent writers share one
    /// `fdatasync` (group commit).
    Always,
    /// A background thread syncs every `n` milliseconds: a power loss loses at most the
    /// last `n` ms of acknowledged writes.
    EveryMs(u64),
    /// Only `flush()`, `close()` and merge wait for a sync; a file sealed by rotation
    /// is synced by a background thread soon after, which also syncs the active file
    /// every few MiB appended (so rotation finds little left to sync). No write waits.
    Never,
}

/// How a [`FileBackend`](crate::FileBackend) is opened. Build with [`FileConfig::new`]
/// and the setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FileConfig {
    /// The store's directory; created if missing. One store per directory.
    pub dir: PathBuf,
    /// When writes are made durable. Default [`SyncPolicy::EveryMs`]`(100)`.
    pub sync: SyncPolicy,
    /// The active file is rotated once it would grow past this. Default 64 MiB.
    pub max_file_size: u64,
    /// Largest record (header + key + value) written or read. Every length read from
    /// disk is checked against it before allocating. Default: room for the largest key
    /// and a 16 MiB value.
    pub max_record_size: u64,
    /// Merge automatically once dead bytes exceed this fraction of all bytes (and the
    /// store holds at least `merge_min_bytes`). `None` turns automatic merge off.
    /// Default `Some(0.5)`.
    pub merge_trigger: Option<f64>,
    /// No automatic merge below this many bytes on disk. Default 16 MiB.
    pub merge_min_bytes: u64,
    /// Repair mode: a corrupt record in the middle of a file is dropped (and reported by
    /// [`FileBackend::recovery_report`](crate::FileBackend::recovery_report)) instead of
    /// failing the open, and the store is merged so the damage is gone. Dropping a record
    /// can bring back an older value of its key. Default false.
    pub repair: bool,
    /// Events a watcher may fall behind before it gets `Lagged`. Default 4096.
    pub watch_capacity: usize,
    /// Bytes of values read from disk kept in RAM for later gets (record lengths plus 64
    /// bytes each); 0 turns the cache off. Default 64 MiB. A cached value is never stale
    /// (it is found by its record's location, which a write or merge replaces) and was
    /// checksum-verified when read.
    pub value_cache_bytes: u64,
    /// The filesystem every file operation goes through. Default [`RealFs`].
    pub(crate) vfs: Arc<dyn Vfs>,
}

impl FileConfig {
    /// Defaults for a store in `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        FileConfig {
            dir: dir.as_ref().to_path_buf(),
            sync: SyncPolicy::EveryMs(100),
            max_file_size: 64 << 20,
            max_record_size: (RECORD_HEADER_LEN + DEFAULT_MAX_KEY_LEN + DEFAULT_MAX_VALUE_LEN)
                as u64,
            merge_trigger: Some(0.5),
            merge_min_bytes: 16 << 20,
            repair: false,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
            value_cache_bytes: DEFAULT_VALUE_CACHE_BYTES,
            vfs: Arc::new(RealFs),
        }
    }

    /// Sets the sync policy.
    pub fn sync_policy(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// Sets the size at which the active file is rotated.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Sets the largest record size; values are limited to what fits.
    pub fn max_record_size(mut self, bytes: u64) -> Self {
        self.max_record_size = bytes;
        self
    }

    /// Sets the dead-bytes ratio that triggers an automatic merge (`None`: never).
    pub fn merge_trigger(mut self, dead_ratio: Option<f64>) -> Self {
        self.merge_trigger = dead_ratio;
        self
    }

    /// Sets the size below which no automatic merge runs.
    pub fn merge_min_bytes(mut self, bytes: u64) -> Self {
        self.merge_min_bytes = bytes;
        self
    }

    /// Turns repair mode on or off.
    pub fn repair(mut self, repair: bool) -> Self {
        self.repair = repair;
        self
    }

    /// Sets how far a watcher may fall behind before it gets `Lagged`.
    pub fn watch_capacity(mut self, events: usize) -> Self {
        self.watch_capacity = events;
        self
    }

    /// Sets the value cache's budget in bytes (0: no cache).
    pub fn value_cache(mut self, bytes: u64) -> Self {
        self.value_cache_bytes = bytes;
        self
    }

    /// Routes every file operation of the store through `vfs` instead of the real
    /// filesystem.
    ///
    /// For testing and fault injection (a simulated disk that loses unsynced writes at a
    /// power cut or fails chosen calls); a production store keeps the default
    /// [`RealFs`]. The store relies on the behaviour described in [`crate::io`].
    pub fn with_vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = vfs;
        self
    }

    /// The filesystem the store uses.
    pub fn vfs(&self) -> &Arc<dyn Vfs> {
        &self.vfs
    }

    /// The longest value this configuration accepts.
    pub fn max_value_len(&self) -> usize {
        let room = self
            .max_record_size
            .saturating_sub((RECORD_HEADER_LEN + DEFAULT_MAX_KEY_LEN) as u64);
        room.min(DEFAULT_MAX_VALUE_LEN as u64).min(u32::MAX as u64) as usize
    }

    /// What a store opened with this configuration offers (see the crate docs,
    /// "Capabilities"): everything but `snapshot_scan` and `cross_process_watch`.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            snapshot_scan: false,
            atomic_batch: true,
            cross_partition_batch: true,
            compare_and_swap: true,
            conditional_batch: true,
            range_delete: true,
            watch: true,
            cross_process_watch: false,
            ttl: true,
            persistent: true,
            compact: true,
            exact_len: true,
            max_key_len: DEFAULT_MAX_KEY_LEN,
            max_value_len: self.max_value_len(),
        }
    }

    /// The limits every length read back from disk is checked against.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_key_len: DEFAULT_MAX_KEY_LEN,
            max_value_len: self.max_value_len(),
            max_record_size: self.max_record_size,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let min_record = (RECORD_HEADER_LEN + DEFAULT_MAX_KEY_LEN) as u64;
        if self.max_record_size < min_record {
            return Err(Error::InvalidConfig {
                detail: format!("max_record_size must be at least {min_record} bytes"),
                source: None,
            });
        }
        if self.max_file_size < 4096 {
            return Err(Error::InvalidConfig {
                detail: "max_file_size must be at least 4096 bytes".into(),
                source: None,
            });
        }
        if let Some(r) = self.merge_trigger
            && !(r > 0.0 && r < 1.0)
        {
            return Err(Error::InvalidConfig {
                detail: format!("merge_trigger {r} must be between 0 and 1 (exclusive)"),
                source: None,
            });
        }
        if let SyncPolicy::EveryMs(0) = self.sync {
            return Err(Error::InvalidConfig {
                detail: "SyncPolicy::EveryMs(0): use SyncPolicy::Always".into(),
                source: None,
            });
        }
        Ok(())
    }
}
