//! Grove's storage behaviour: CRDT state by replication group.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backend_api::{CasOutcome, Error, Partition, Result, ScanRange, StorageBackend};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use serde::{Serialize, de::DeserializeOwned};

use super::codec::{decode, encode};
use crate::partitions::layer_partition;

/// Typed CRDT states by group name, one key per group in the partition `<name>_crdt`.
///
/// A state is stored whole, as one value ([`codec`](super::codec)): a reader sees a
/// whole old or a whole new snapshot, never part of one, on every backend, since a
/// single key's put is atomic. [`merge`](Self::merge) folds a replica's state into the
/// stored one through a user merge function in a compare-and-swap loop, so concurrent
/// replicas never lose an update. States larger than the backend's value limit are
/// refused with [`Error::InvalidValue`].
pub struct GroupStore<T> {
    backend: Arc<dyn StorageBackend>,
    partition: Partition,
    closed: AtomicBool,
    _state: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> GroupStore<T> {
    /// Grove's `init`: opens (creating if needed) the store `name` (1 to 59 characters
    /// of `[A-Za-z0-9_]`).
    pub async fn open(backend: Arc<dyn StorageBackend>, name: &str) -> Result<Self> {
        let partition = layer_partition(name, "_crdt")?;
        backend.create_partition(&partition).await?;
        Ok(GroupStore {
            backend,
            partition,
            closed: AtomicBool::new(false),
            _state: PhantomData,
        })
    }

    /// Saves the full state of `group` (a snapshot), replacing what was there.
    pub async fn save(&self, group: &str, state: &T) -> Result<()> {
        self.check_open()?;
        let record = encode(state)?;
        self.backend
            .put(&self.partition, group.as_bytes(), &record)
            .await
    }

    /// The saved state of `group`, or `None` if nothing is saved.
    pub async fn load(&self, group: &str) -> Result<Option<T>> {
        self.check_open()?;
        match self.backend.get(&self.partition, group.as_bytes()).await? {
            Some(stored) => decode(group, &stored).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes the state of `group`; a group with nothing saved is Ok.
    pub async fn delete(&self, group: &str) -> Result<()> {
        self.check_open()?;
        self.backend.delete(&self.partition, group.as_bytes()).await
    }

    /// Every group with a saved state, in byte order of their names.
    pub async fn list_groups(&self) -> Result<Vec<String>> {
        self.groups().await?.try_collect().await
    }

    /// [`list_groups`](Self::list_groups) as a stream, in bounded memory.
    pub async fn groups(&self) -> Result<BoxStream<'static, Result<String>>> {
        self.check_open()?;
        let scan = self
            .backend
            .scan(&self.partition, ScanRange::all().keys_only())
            .await?;
        Ok(scan
            .map(|item| {
                let (key, _) = item?;
                String::from_utf8(key.to_vec()).map_err(|_| Error::Corruption {
                    detail: "a CRDT group name that is not UTF-8".into(),
                })
            })
            .boxed())
    }

    /// Folds `update` into the stored state of `group` and returns what was stored:
    /// `merge(stored, update)`, or `update` itself when nothing was saved. Runs as a
    /// compare-and-swap loop: if another writer changed the group in between, `merge`
    /// runs again on what it wrote, so no concurrent update is lost. `merge` should be
    /// the CRDT's join (commutative, associative, idempotent). Needs
    /// `compare_and_swap`.
    pub async fn merge(&self, group: &str, update: &T, merge: impl Fn(T, &T) -> T) -> Result<T> {
        self.check_open()?;
        let key = group.as_bytes();
        let mut stored = self.backend.get(&self.partition, key).await?;
        loop {
            let merged = match &stored {
                Some(raw) => merge(decode(group, raw)?, update),
                None => decode(group, &encode(update)?)?,
            };
            let record = encode(&merged)?;
            match self
                .backend
                .compare_and_swap(&self.partition, key, stored.as_deref(), Some(&record))
                .await?
            {
                CasOutcome::Mismatch { current } => stored = current,
                _ => return Ok(merged),
            }
        }
    }

    /// Grove's `close`: flushes the backend so every saved state is durable, and closes
    /// this store (later calls answer [`Error::Closed`]). The backend itself stays open
    /// for its other users; close it with `StorageBackend::close`.
    pub async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.backend.flush().await
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(())
    }
}
