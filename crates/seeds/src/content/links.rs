//! Irmin's link store and read-write store: names pointing at hashes.

use std::sync::Arc;

use backend_api::{Partition, Result, ScanRange, StorageBackend, WatchEvent};
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use super::hash::Hash;
use crate::partitions::layer_partition;

/// A change seen by [`LinkStore::watch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// `name` now points at `hash`.
    Set {
        /// The link's name.
        name: Bytes,
        /// Its new target.
        hash: Hash,
    },
    /// `name` was removed.
    Removed {
        /// The link's name.
        name: Bytes,
    },
    /// Every link in `[start, end)` was removed at once (a range delete underneath).
    RangeRemoved {
        /// Inclusive lower bound, `None`: open.
        start: Option<Bytes>,
        /// Exclusive upper bound, `None`: open.
        end: Option<Bytes>,
    },
    /// The watcher fell behind and `n` events were dropped; re-read with
    /// [`LinkStore::list`] and [`LinkStore::find`] if the state must be complete.
    Lagged(u64),
}

/// Names (any valid key bytes: branch names, hashes) pointing at hashes, in the
/// partition `<name>_link`: Irmin's link store (`add index key`) and its read-write
/// store for branches (`find`, `mem`, `set`, `test_and_set`, `remove`, `list`,
/// `watch`).
///
/// `test_and_set` needs `compare_and_swap`, `watch` needs `watch` (and
/// `cross_process_watch` to see other processes' writes); both answer
/// [`Error::Unsupported`](backend_api::Error::Unsupported) otherwise.
#[derive(Clone)]
pub struct LinkStore {
    backend: Arc<dyn StorageBackend>,
    partition: Partition,
}

impl LinkStore {
    /// Opens (creating if needed) the link store `name` (1 to 59 characters of
    /// `[A-Za-z0-9_]`).
    pub async fn open(backend: Arc<dyn StorageBackend>, name: &str) -> Result<Self> {
        let partition = layer_partition(name, "_link")?;
        backend.create_partition(&partition).await?;
        Ok(LinkStore { backend, partition })
    }

    /// The partition holding the links (for tools and tests that look underneath).
    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// Points `name` at `hash`.
    pub async fn set(&self, name: &[u8], hash: &Hash) -> Result<()> {
        self.backend
            .put(&self.partition, name, hash.as_bytes())
            .await
    }

    /// Where `name` points, or `None`.
    pub async fn find(&self, name: &[u8]) -> Result<Option<Hash>> {
        match self.backend.get(&self.partition, name).await? {
            Some(raw) => Ok(Some(Hash::from_slice(&raw)?)),
            None => Ok(None),
        }
    }

    /// True when `name` points somewhere.
    pub async fn mem(&self, name: &[u8]) -> Result<bool> {
        self.backend.exists(&self.partition, name).await
    }

    /// Removes `name`; a missing name is Ok.
    pub async fn remove(&self, name: &[u8]) -> Result<()> {
        self.backend.delete(&self.partition, name).await
    }

    /// Atomically: if `name` points at `test` (`None`: absent), point it at `set`
    /// (`None`: remove it) and answer `true`; otherwise change nothing and answer
    /// `false`. Needs `compare_and_swap`.
    pub async fn test_and_set(
        &self,
        name: &[u8],
        test: Option<&Hash>,
        set: Option<&Hash>,
    ) -> Result<bool> {
        let outcome = self
            .backend
            .compare_and_swap(
                &self.partition,
                name,
                test.map(|h| &h.as_bytes()[..]),
                set.map(|h| &h.as_bytes()[..]),
            )
            .await?;
        Ok(outcome.is_swapped())
    }

    /// Every name, in byte order, as a stream in bounded memory.
    pub async fn list(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        let scan = self
            .backend
            .scan(&self.partition, ScanRange::all().keys_only())
            .await?;
        Ok(scan.map_ok(|(name, _)| name).boxed())
    }

    /// Every change to a name starting with `prefix` from now on. Needs `watch`.
    pub async fn watch(&self, prefix: &[u8]) -> Result<BoxStream<'static, Result<LinkEvent>>> {
        let events = self.backend.watch(&self.partition, prefix).await?;
        Ok(events
            .map(|event| {
                Ok(match event? {
                    WatchEvent::Put { key, value } => LinkEvent::Set {
                        name: key,
                        hash: Hash::from_slice(&value)?,
                    },
                    WatchEvent::Delete { key } => LinkEvent::Removed { name: key },
                    WatchEvent::RangeDeleted { range } => LinkEvent::RangeRemoved {
                        start: range.start,
                        end: range.end,
                    },
                    WatchEvent::Lagged(n) => LinkEvent::Lagged(n),
                    // An event kind newer than this layer: report it as a gap, so the
                    // watcher re-reads instead of trusting an incomplete picture.
                    _ => LinkEvent::Lagged(1),
                })
            })
            .boxed())
    }
}
