//! Configuration of a [`MemBackend`](crate::MemBackend).

use std::time::Duration;

use backend_api::{Capabilities, Result};
use backend_support::DEFAULT_WATCH_CAPACITY;

use crate::error::invalid_config;

/// Bytes accounted per entry on top of its key and value: the map node share, the two
/// `Bytes` handles, the deadline and the write sequence number. An estimate, fixed so
/// that `partition_size`, `status()` and the memory cap ([`MemConfig::max_memory`](field@MemConfig::max_memory))
/// agree exactly.
pub const ENTRY_OVERHEAD: u64 = 96;

/// Accounted size of one entry.
pub(crate) fn entry_cost(key_len: usize, value_len: usize) -> u64 {
    key_len as u64 + value_len as u64 + ENTRY_OVERHEAD
}

/// How a [`MemBackend`](crate::MemBackend) is opened.
///
/// `MemConfig::default()` (same as [`MemConfig::new`]) has no memory cap, sweeps expired
/// keys every 100 ms (at most 10 000 per tick), streams scans 256 pairs per chunk and
/// lets a watcher fall 4096 events behind before it gets `Lagged`.
///
/// ```
/// use backend_mem::MemConfig;
/// let config = MemConfig::new().max_memory(64 << 20);
/// assert_eq!(config.max_memory, Some(64 << 20));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemConfig {
    /// Cap on the accounted bytes of the whole store (every partition): each entry
    /// counts `key.len() + value.len() + ENTRY_OVERHEAD` bytes (see
    /// [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD)). After a write that takes the store
    /// over the cap, the oldest-written entries of the whole store are evicted until it
    /// fits again, before the write returns (Riak's memory backend `max_memory`). A
    /// single entry larger than the cap is refused with `Error::InvalidValue`. `None`:
    /// no cap, no eviction.
    pub max_memory: Option<u64>,
    /// How often the background sweeper reclaims expired keys. Must be non-zero.
    pub sweep_interval: Duration,
    /// The most expired keys the sweeper removes per tick (it takes each partition's
    /// write lock for at most [`SWEEP_LOCK_BATCH`](crate::SWEEP_LOCK_BATCH) removals at a
    /// time). Must be non-zero.
    pub sweep_budget: usize,
    /// Pairs a scan reads per lock acquisition. Must be non-zero.
    pub scan_chunk: usize,
    /// Events a watcher may fall behind before it receives `WatchEvent::Lagged`.
    pub watch_capacity: usize,
}

impl MemConfig {
    /// The defaults: no memory cap.
    pub fn new() -> Self {
        MemConfig {
            max_memory: None,
            sweep_interval: Duration::from_millis(100),
            sweep_budget: 10_000,
            scan_chunk: 256,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
        }
    }

    /// Caps the store at `bytes` accounted bytes (see [`MemConfig::max_memory`](field@MemConfig::max_memory)).
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Sets [`MemConfig::sweep_interval`](field@MemConfig::sweep_interval).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Sets [`MemConfig::sweep_budget`](field@MemConfig::sweep_budget).
    pub fn sweep_budget(mut self, entries: usize) -> Self {
        self.sweep_budget = entries;
        self
    }

    /// Sets [`MemConfig::scan_chunk`](field@MemConfig::scan_chunk).
    pub fn scan_chunk(mut self, pairs: usize) -> Self {
        self.scan_chunk = pairs;
        self
    }

    /// Sets [`MemConfig::watch_capacity`](field@MemConfig::watch_capacity).
    pub fn watch_capacity(mut self, events: usize) -> Self {
        self.watch_capacity = events;
        self
    }

    /// `Error::InvalidConfig` for a zero interval, budget or chunk, or a cap that
    /// cannot hold even one entry.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |detail: &str| Err(invalid_config(detail));
        if self.sweep_interval.is_zero() {
            return bad("sweep_interval must be greater than zero");
        }
        if self.sweep_budget == 0 {
            return bad("sweep_budget must be at least 1");
        }
        if self.scan_chunk == 0 {
            return bad("scan_chunk must be at least 1");
        }
        if self.max_memory.is_some_and(|cap| cap <= ENTRY_OVERHEAD) {
            return bad(&format!(
                "max_memory must exceed the per-entry overhead of {ENTRY_OVERHEAD} bytes"
            ));
        }
        Ok(())
    }

    /// What a store opened with this configuration offers: the one place this backend
    /// declares its capabilities (what `capabilities()` returns; the crate docs give
    /// the reason for each). The same for every configuration.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            // Scans read a chunk per lock acquisition: a write between chunks may show.
            snapshot_scan: false,
            atomic_batch: true,
            cross_partition_batch: true,
            compare_and_swap: true,
            conditional_batch: true,
            range_delete: true,
            watch: true,
            ttl: true,
            exact_len: true,
            ..Capabilities::default()
        }
    }
}

impl Default for MemConfig {
    fn default() -> Self {
        Self::new()
    }
}
