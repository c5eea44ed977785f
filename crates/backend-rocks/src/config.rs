//! Options for opening a [`RocksBackend`](crate::RocksBackend).

use std::path::{Path, PathBuf};

use backend_api::Capabilities;
use backend_support::DEFAULT_WATCH_CAPACITY;

/// Block compression of the SST files. Only LZ4 is compiled in (one compression
/// library keeps the C++ build short).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RocksCompression {
    /// No compression.
    None,
    /// LZ4: fast, modest ratio. The default.
    #[default]
    Lz4,
}

/// How to open a RocksDB store.
///
/// ```
/// use backend_rocks::RocksConfig;
/// let config = RocksConfig::new("/tmp/my-store").sync_writes(true);
/// assert!(config.sync_writes);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RocksConfig {
    /// Directory of the store; created if missing. One handle at a time may hold it.
    pub path: PathBuf,
    /// Fsync the WAL before every write is acknowledged, so acknowledged writes survive
    /// power loss. Off by default: writes then survive a process kill (the WAL is in the
    /// OS) but the last few may be lost on power loss until `flush()`. With sync writes
    /// the write (and its fsync) runs on tokio's blocking pool.
    pub sync_writes: bool,
    /// Bytes of the LRU block cache shared by every partition. Default 64 MiB.
    pub block_cache_bytes: usize,
    /// SST compression. Default [`RocksCompression::Lz4`].
    pub compression: RocksCompression,
    /// Memtable size per partition before it is flushed to an SST. Default 16 MiB.
    pub write_buffer_bytes: usize,
    /// Events a watcher may fall behind before it gets `WatchEvent::Lagged`.
    pub watch_capacity: usize,
}

impl RocksConfig {
    /// Defaults, with the store at `path`. There is no `Default`: a store always has an
    /// explicit directory, never one picked from the working directory.
    pub fn new(path: impl AsRef<Path>) -> Self {
        RocksConfig {
            path: path.as_ref().to_path_buf(),
            sync_writes: false,
            block_cache_bytes: 64 << 20,
            compression: RocksCompression::Lz4,
            write_buffer_bytes: 16 << 20,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
        }
    }

    /// Sets [`sync_writes`](Self::sync_writes).
    pub fn sync_writes(mut self, sync: bool) -> Self {
        self.sync_writes = sync;
        self
    }

    /// Sets [`block_cache_bytes`](Self::block_cache_bytes).
    pub fn block_cache_bytes(mut self, bytes: usize) -> Self {
        self.block_cache_bytes = bytes;
        self
    }

    /// Sets [`compression`](Self::compression).
    pub fn compression(mut self, compression: RocksCompression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`write_buffer_bytes`](Self::write_buffer_bytes).
    pub fn write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.write_buffer_bytes = bytes;
        self
    }

    /// Sets [`watch_capacity`](Self::watch_capacity).
    pub fn watch_capacity(mut self, events: usize) -> Self {
        self.watch_capacity = events;
        self
    }

    /// What a store opened with this configuration offers: the one place this backend
    /// declares its capabilities (what `capabilities()` returns; the crate docs give
    /// the reason for each). The same for every configuration.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            snapshot_scan: true,
            atomic_batch: true,
            cross_partition_batch: true,
            compare_and_swap: true,
            conditional_batch: true,
            range_delete: true,
            watch: true,
            ttl: true,
            persistent: true,
            compact: true,
            exact_len: true,
            ..Capabilities::default()
        }
    }
}
