//! Options for opening a [`SledBackend`](crate::SledBackend).

use std::path::{Path, PathBuf};

use backend_api::Capabilities;
use backend_support::DEFAULT_WATCH_CAPACITY;

/// sled's space/throughput trade-off (`sled::Mode`), without exposing sled's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SledMode {
    /// Favour a smaller file: more frequent segment rewrites (sled's default).
    #[default]
    LowSpace,
    /// Favour write throughput: larger files, fewer rewrites.
    HighThroughput,
}

/// How to open a sled store.
///
/// ```
/// use backend_sled::SledConfig;
/// let config = SledConfig::new("/tmp/my-store").flush_every_ms(Some(100));
/// assert_eq!(config.flush_every_ms, Some(100));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SledConfig {
    /// Directory of the store; created if missing. One handle at a time may hold it.
    pub path: PathBuf,
    /// Bytes of sled's page cache. Default 256 MiB.
    pub cache_capacity: u64,
    /// How often sled's background thread makes writes durable; `None` turns it off, so
    /// only [`flush`](backend_api::StorageBackend::flush) and `close` do. Default 500 ms,
    /// sled's own default: an acknowledged write survives a crash after at most this long.
    pub flush_every_ms: Option<u64>,
    /// Space or throughput. Default [`SledMode::LowSpace`].
    pub mode: SledMode,
    /// Events a watcher may fall behind before it gets `WatchEvent::Lagged`.
    pub watch_capacity: usize,
}

impl SledConfig {
    /// Defaults, with the store at `path`. There is no `Default`: a store always has an
    /// explicit directory, never one picked from the working directory.
    pub fn new(path: impl AsRef<Path>) -> Self {
        SledConfig {
            path: path.as_ref().to_path_buf(),
            cache_capacity: 256 << 20,
            flush_every_ms: Some(500),
            mode: SledMode::LowSpace,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
        }
    }

    /// Sets [`cache_capacity`](Self::cache_capacity).
    pub fn cache_capacity(mut self, bytes: u64) -> Self {
        self.cache_capacity = bytes;
        self
    }

    /// Sets [`flush_every_ms`](Self::flush_every_ms).
    pub fn flush_every_ms(mut self, every_ms: Option<u64>) -> Self {
        self.flush_every_ms = every_ms;
        self
    }

    /// Sets [`mode`](Self::mode).
    pub fn mode(mut self, mode: SledMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`watch_capacity`](Self::watch_capacity).
    pub fn watch_capacity(mut self, events: usize) -> Self {
        self.watch_capacity = events;
        self
    }

    /// The sled configuration these options describe.
    pub(crate) fn to_sled(&self) -> sled::Config {
        sled::Config::new()
            .path(&self.path)
            .cache_capacity(self.cache_capacity)
            .flush_every_ms(self.flush_every_ms)
            .mode(match self.mode {
                SledMode::LowSpace => sled::Mode::LowSpace,
                SledMode::HighThroughput => sled::Mode::HighThroughput,
            })
    }

    /// What a store opened with this configuration offers: the one place this backend
    /// declares its capabilities (what `capabilities()` returns; the crate docs give
    /// the reason for each). The same for every configuration. `range_delete` is false
    /// because sled writes several keys atomically only from a batch or transaction held
    /// whole in memory (see docs/backend-sled.md).
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            atomic_batch: true,
            cross_partition_batch: true,
            compare_and_swap: true,
            conditional_batch: true,
            watch: true,
            ttl: true,
            persistent: true,
            exact_len: true,
            ..Capabilities::default()
        }
    }
}
