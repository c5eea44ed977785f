//! Read cache with a byte budget, kept up to date by every write through it.

mod backend;
mod follow;
mod state;

use std::sync::Arc;

use backend_api::StorageBackend;

use crate::layer::Layer;

/// Answers `get`, `get_many` and `exists` from memory when it can, within a budget of
/// `bytes` (keys, values and about 96 bytes per entry), evicting by quick_cache's
/// CLOCK-Pro policy. Reads fill it (absent keys too); every write through it updates or
/// drops the entries it touches: `put`, `put_with` (kept no later than the TTL, counted
/// from when the write began; a value read back later for a key this layer wrote with a
/// TTL is kept no later than that deadline either), `delete`, `batch`, `compare_and_swap`
/// and `conditional_batch` (their new values, or the current value a mismatch reports),
/// range deletes (every entry in the range), `create_partition` and `drop_partition`
/// (every entry of the partition), `close` (everything; later calls bypass it). A write
/// that fails or is cancelled drops its keys' entries, since its effect is unknown.
/// Scans, watches, `len` and the rest always go to the backend.
///
/// **Coherence.** A read through the layer never returns a value older than the last
/// write acknowledged through the same layer (a read racing with a write stores nothing).
/// Writes made through other handles or other processes are **not seen** until the entry
/// is evicted or rewritten through this layer, unless the backend has
/// `cross_process_watch`: then the layer watches every partition before it stores
/// anything from it and drops each entry another writer changes (a range delete, a
/// lagging or ended watch: the partition's entries), so it is coherent with every
/// writer within the watch's delivery delay. `status()` reports `cache.coherence`
/// (`"this handle"` or `"watch"`), `cache.hits`, `cache.misses` and `cache.bytes`.
///
/// Capabilities are the inner backend's. Each backend wrapped by the layer gets its own
/// cache of `bytes`. Applied twice, two caches: both stay coherent with writes through
/// them; the outer one answers first.
#[derive(Clone, Debug)]
pub struct CacheLayer {
    bytes: u64,
}

impl CacheLayer {
    /// A cache of at most `bytes` per wrapped backend.
    pub fn new(bytes: u64) -> Self {
        CacheLayer { bytes }
    }
}

impl Layer for CacheLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(backend::Cached::new(inner, state::State::new(self.bytes)))
    }
}
