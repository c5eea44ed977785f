//! [`SledBackend`] and its [`StorageBackend`] implementation.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_api::{
    Bytes, Capabilities, CasOutcome, Error, KvStream, Operation, Partition, PutOptions, Result,
    ScanRange, Status, StorageBackend, WatchEvent, WatchStream, async_trait,
};
use backend_support::{PartitionMap, WatchHub, ttl, validate_batch};
use futures_util::StreamExt;
use parking_lot::RwLock;

use crate::SledConfig;
use crate::error::{NAME, is_lock_error, join_err, sled_err};
use crate::scan::{measure_tree, scan_tree};
use crate::value;
use backend_support::KeyLocks;

/// Prefix of the sled trees that hold partitions. `:` never occurs in a partition
/// name, so sled's own trees (`__sled__default`) and user partitions never collide,
/// even a user partition literally named `__sled__default`.
const TREE_PREFIX: &str = "p:";

/// How long `open` keeps retrying while the store's file lock is still held (by a
/// handle being closed, or a scan thread that has not yet noticed its stream was
/// dropped).
const LOCK_WAIT: Duration = Duration::from_secs(5);
const LOCK_RETRY: Duration = Duration::from_millis(50);

fn tree_name(partition: &Partition) -> String {
    format!("{TREE_PREFIX}{}", partition.name())
}

fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}

/// Partition -> tree.
type Trees = PartitionMap<sled::Tree>;

/// The store while open: the database and the registry of partition trees.
struct Open {
    db: sled::Db,
    trees: Trees,
}

/// A [`StorageBackend`] on sled: each partition is a sled tree.
///
/// See the crate docs for capabilities, durability and how watch, CAS and TTL work.
pub struct SledBackend {
    config: SledConfig,
    state: RwLock<Option<Open>>,
    locks: KeyLocks,
    hub: WatchHub,
}

impl std::fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend")
            .field("path", &self.config.path)
            .field("open", &self.state.read().is_some())
            .finish()
    }
}

impl SledBackend {
    /// Opens (creating if missing) the store at `config.path` and registers its
    /// partitions. A store held by another open handle answers [`Error::Locked`] after
    /// a short wait.
    pub async fn open(config: SledConfig) -> Result<SledBackend> {
        let sled_config = config.to_sled();
        let open = tokio::task::spawn_blocking(move || open_store(&sled_config))
            .await
            .map_err(join_err)??;
        Ok(SledBackend {
            hub: WatchHub::new(config.watch_capacity),
            config,
            state: RwLock::new(Some(open)),
            locks: KeyLocks::new(),
        })
    }

    /// The configuration this handle was opened with.
    pub fn config(&self) -> &SledConfig {
        &self.config
    }

    fn caps() -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            snapshot_scan: false,
            atomic_batch: true,
            compare_and_swap: true,
            watch: true,
            cross_process_watch: false,
            ttl: true,
            persistent: true,
            compact: false,
            exact_len: true,
            ..Capabilities::default()
        }
    }

    fn db(&self) -> Result<sled::Db> {
        self.state
            .read()
            .as_ref()
            .map(|o| o.db.clone())
            .ok_or(Error::Closed)
    }

    fn tree(&self, partition: &Partition) -> Result<sled::Tree> {
        self.with_tree(partition, |tree| Ok(tree.clone()))
    }

    /// Runs `f` on the tree of `partition` under the registry's read lock (no clone of
    /// the tree handle). `f` must not block for long: `close` and partition changes
    /// wait for it.
    fn with_tree<T>(
        &self,
        partition: &Partition,
        f: impl FnOnce(&sled::Tree) -> Result<T>,
    ) -> Result<T> {
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        f(open
            .trees
            .get(partition)
            .ok_or_else(|| not_found(partition))?)
    }

    /// Writes `stored` (or removes the key when `None`) and publishes the event, under
    /// the key's stripe lock so events of one key are published in commit order.
    fn write_one(
        &self,
        partition: &Partition,
        key: &[u8],
        stored: Option<sled::IVec>,
        event_value: Option<&[u8]>,
    ) -> Result<()> {
        self.with_tree(partition, |tree| {
            let _guard = self.locks.lock(partition, key);
            match stored {
                Some(stored) => tree.insert(key, stored).map_err(sled_err)?,
                None => tree.remove(key).map_err(sled_err)?,
            };
            if self.hub.is_watched(partition) {
                self.hub.publish(partition, event(key, event_value));
            }
            Ok(())
        })
    }

    /// Best-effort removal of an expired value: a CAS on the exact stored bytes, so a
    /// newer write is never lost. Not a user-visible write: no watch event.
    fn reclaim(tree: &sled::Tree, key: &[u8], stored: &sled::IVec) {
        let _ = tree.compare_and_swap(key, Some(stored), None::<&[u8]>);
    }
}

fn event(key: &[u8], value: Option<&[u8]>) -> WatchEvent {
    let key = Bytes::copy_from_slice(key);
    match value {
        Some(value) => WatchEvent::Put {
            key,
            value: Bytes::copy_from_slice(value),
        },
        None => WatchEvent::Delete { key },
    }
}

/// The stored form of a put with `options`: `None` when the TTL is zero (the put acts
/// as a delete of any older value, and the key reads as absent at once).
fn encode_put(value: &[u8], options: &PutOptions) -> Option<sled::IVec> {
    match options.ttl {
        None => Some(value::plain(value)),
        Some(ttl) if ttl.is_zero() => None,
        Some(ttl) => Some(value::stored(value, Some(ttl::deadline_ms(ttl)))),
    }
}

fn open_store(config: &sled::Config) -> Result<Open> {
    let started = std::time::Instant::now();
    let db = loop {
        match config.open() {
            Ok(db) => break db,
            Err(e) if is_lock_error(&e) => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(Error::Locked {
                        detail: e.to_string(),
                    });
                }
                std::thread::sleep(LOCK_RETRY);
            }
            Err(e) => return Err(sled_err(e)),
        }
    };
    let mut trees = Trees::default();
    for name in db.tree_names() {
        let Some(rest) = name.strip_prefix(TREE_PREFIX.as_bytes()) else {
            continue;
        };
        let partition = std::str::from_utf8(rest)
            .ok()
            .and_then(|n| Partition::parse(n).ok())
            .ok_or_else(|| {
                Error::corruption(format!("sled tree {:?} is not a partition name", &*name))
            })?;
        let tree = db.open_tree(&name).map_err(sled_err)?;
        trees.insert(partition, tree);
    }
    Ok(Open { db, trees })
}

#[async_trait]
impl StorageBackend for SledBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Self::caps()
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        let mut state = self.state.write();
        let open = state.as_mut().ok_or(Error::Closed)?;
        if !open.trees.contains_key(partition) {
            let tree = open.db.open_tree(tree_name(partition)).map_err(sled_err)?;
            open.trees.insert(partition.clone(), tree);
        }
        Ok(())
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        {
            let mut state = self.state.write();
            let open = state.as_mut().ok_or(Error::Closed)?;
            if open.trees.remove(partition).is_none() {
                return Err(not_found(partition));
            }
            open.db.drop_tree(tree_name(partition)).map_err(sled_err)?;
        }
        self.hub.close_partition(partition);
        Ok(())
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        Ok(open.trees.contains_key(partition))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        let mut names: Vec<Partition> = open.trees.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.with_tree(partition, |tree| {
            Self::caps().check_key(key)?;
            let Some(stored) = tree.get(key).map_err(sled_err)? else {
                return Ok(None);
            };
            match value::live_header(&stored)? {
                Some(header_len) => Ok(Some(value::user_bytes(stored, header_len))),
                None => {
                    Self::reclaim(tree, key, &stored);
                    Ok(None)
                }
            }
        })
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.with_tree(partition, |tree| {
            Self::caps().check_key(key)?;
            match tree.get(key).map_err(sled_err)? {
                None => Ok(false),
                Some(stored) => Ok(value::live_header(&stored)?.is_some()),
            }
        })
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        let caps = Self::caps();
        caps.check_key(key)?;
        caps.check_value(value)?;
        self.write_one(partition, key, Some(value::plain(value)), Some(value))
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        let caps = Self::caps();
        caps.check_key(key)?;
        caps.check_value(value)?;
        let stored = encode_put(value, &options);
        let event_value = stored.as_ref().map(|_| value);
        self.write_one(partition, key, stored, event_value)
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        Self::caps().check_key(key)?;
        self.write_one(partition, key, None, None)
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        let tree = self.tree(partition)?;
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        Ok(scan_tree(tree, range))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let caps = Self::caps();
        // Resolve every partition to its tree (and a slot in `trees`) up front; any
        // invalid operation rejects the batch before anything is written.
        let mut trees: Vec<sled::Tree> = Vec::new();
        let mut slots: Vec<usize> = Vec::with_capacity(operations.len());
        let mut seen: Vec<&Partition> = Vec::new();
        {
            let state = self.state.read();
            let open = state.as_ref().ok_or(Error::Closed)?;
            validate_batch(&caps, NAME, &operations, |p| open.trees.contains_key(p))?;
            for op in &operations {
                let p = op.partition();
                let slot = match seen.iter().position(|s| *s == p) {
                    Some(slot) => slot,
                    None => {
                        seen.push(p);
                        trees.push(open.trees[p].clone());
                        seen.len() - 1
                    }
                };
                slots.push(slot);
            }
        }
        if operations.is_empty() {
            return Ok(());
        }
        let stored: Vec<Option<sled::IVec>> = operations
            .iter()
            .map(|op| match op {
                Operation::Put { value, options, .. } => encode_put(value, options),
                Operation::Delete { .. } => None,
            })
            .collect();

        let _guards = self
            .locks
            .lock_all(operations.iter().map(|op| (op.partition(), &op.key()[..])));
        if trees.len() == 1 {
            // One tree: sled's batch is atomic on its own and cheaper than a transaction.
            let mut batch = sled::Batch::default();
            for (op, value) in operations.iter().zip(&stored) {
                match value {
                    Some(value) => batch.insert(&op.key()[..], value.clone()),
                    None => batch.remove(&op.key()[..]),
                }
            }
            trees[0].apply_batch(batch).map_err(sled_err)?;
        } else {
            use sled::Transactional;
            let result = trees.as_slice().transaction(|views| {
                for ((op, value), &slot) in operations.iter().zip(&stored).zip(&slots) {
                    match value {
                        Some(value) => views[slot].insert(&op.key()[..], value.clone())?,
                        None => views[slot].remove(&op.key()[..])?,
                    };
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            });
            match result {
                Ok(()) => {}
                Err(sled::transaction::TransactionError::Storage(e)) => return Err(sled_err(e)),
                Err(sled::transaction::TransactionError::Abort(())) => {
                    return Err(Error::backend(NAME, "sled aborted a batch transaction"));
                }
            }
        }
        // Whether each partition is watched, asked once per partition (after the commit,
        // so a watch that returned before it sees the batch), not once per operation.
        let watched: Vec<bool> = seen.iter().map(|p| self.hub.is_watched(p)).collect();
        for ((op, value), &slot) in operations.iter().zip(&stored).zip(&slots) {
            let p = op.partition();
            if watched[slot] {
                let event_value = match (op, value) {
                    (Operation::Put { value, .. }, Some(_)) => Some(&value[..]),
                    _ => None,
                };
                self.hub.publish(p, event(op.key(), event_value));
            }
        }
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        partition: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let caps = Self::caps();
        caps.check_key(key)?;
        if let Some(new) = new {
            caps.check_value(new)?;
        }
        let tree = self.tree(partition)?;
        let new_stored = new.map(value::plain);
        let _guard = self.locks.lock(partition, key);
        loop {
            // Compare the live value (an expired one counts as absent), then swap on the
            // exact stored bytes (header included), so the check and the write are one
            // atomic step in sled. A lost race (e.g. a concurrent reclaim of an expired
            // value) re-reads and decides again.
            let stored = tree.get(key).map_err(sled_err)?;
            let live = match &stored {
                None => None,
                Some(s) => value::live_value(s)?,
            };
            if live != expected {
                return Ok(CasOutcome::Mismatch {
                    current: live.map(Bytes::copy_from_slice),
                });
            }
            let swapped = tree
                .compare_and_swap(key, stored.as_deref(), new_stored.clone())
                .map_err(sled_err)?;
            if swapped.is_ok() {
                if self.hub.is_watched(partition) {
                    self.hub.publish(partition, event(key, new));
                }
                return Ok(CasOutcome::Swapped);
            }
        }
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        // Hold the registry lock while subscribing so a concurrent drop cannot slip in
        // between the check and the subscription.
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        if !open.trees.contains_key(partition) {
            return Err(not_found(partition));
        }
        Ok(self.hub.subscribe(partition, prefix))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        let tree = self.tree(partition)?;
        let (_, bytes) = tokio::task::spawn_blocking(move || measure_tree(&tree))
            .await
            .map_err(join_err)??;
        Ok(bytes)
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        let tree = self.tree(partition)?;
        let (count, _) = tokio::task::spawn_blocking(move || measure_tree(&tree))
            .await
            .map_err(join_err)??;
        Ok(count)
    }

    async fn flush(&self) -> Result<()> {
        let db = self.db()?;
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(join_err)?
            .map_err(sled_err)?;
        Ok(())
    }

    async fn status(&self) -> Result<Status> {
        let (db, partitions) = {
            let state = self.state.read();
            let open = state.as_ref().ok_or(Error::Closed)?;
            (open.db.clone(), open.trees.len())
        };
        let size_on_disk = tokio::task::spawn_blocking(move || db.size_on_disk())
            .await
            .map_err(join_err)?
            .map_err(sled_err)?;
        let mut status = BTreeMap::new();
        status.insert("engine".into(), "sled 0.34".into());
        status.insert("path".into(), self.config.path.display().to_string());
        status.insert("partitions".into(), partitions.to_string());
        status.insert("size_on_disk".into(), size_on_disk.to_string());
        status.insert(
            "cache_capacity".into(),
            self.config.cache_capacity.to_string(),
        );
        status.insert(
            "flush_every_ms".into(),
            self.config
                .flush_every_ms
                .map_or_else(|| "off".to_owned(), |ms| ms.to_string()),
        );
        status.insert("mode".into(), format!("{:?}", self.config.mode));
        Ok(status)
    }

    async fn close(&self) -> Result<()> {
        let Some(open) = self.state.write().take() else {
            return Ok(());
        };
        self.hub.close_all();
        tokio::task::spawn_blocking(move || {
            let flushed = open.db.flush();
            drop(open);
            flushed
        })
        .await
        .map_err(join_err)?
        .map_err(sled_err)?;
        Ok(())
    }
}
