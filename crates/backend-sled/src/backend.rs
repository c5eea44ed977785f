//! [`SledBackend`] and its [`StorageBackend`] implementation.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, Check, EntryStream, Error, KvStream, Operation, Partition,
    PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use backend_support::{
    Committer, Effect, PartitionMap, Stored, live_header_len, validate_conditional_batch,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use parking_lot::RwLock;

use crate::SledConfig;
use crate::batch::BatchTrees;
use crate::durable::Syncer;
use crate::error::{NAME, is_lock_error, join_err, not_found, sled_err, sled_err_at};
use crate::scan::{self, measure_tree, scan_tree};
use crate::value;

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
    /// `config.capabilities()`, kept for the checks on every call.
    caps: Capabilities,
    state: RwLock<Option<Open>>,
    committer: Committer,
    syncer: Syncer,
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
        let (sled_config, path) = (config.to_sled(), config.path.clone());
        let open = tokio::task::spawn_blocking(move || open_store(&sled_config, &path))
            .await
            .map_err(join_err)??;
        Ok(SledBackend {
            committer: Committer::new(config.watch_capacity),
            caps: config.capabilities(),
            syncer: Syncer::new(&config.path),
            config,
            state: RwLock::new(Some(open)),
        })
    }

    /// The configuration this handle was opened with.
    pub fn config(&self) -> &SledConfig {
        &self.config
    }

    /// Runs `f` on the tree of `partition` under the registry's read lock (no clone of
    /// the tree handle), in the contract's error order: `Closed`, then `args` (the
    /// caller's argument check), then `PartitionNotFound`. `f` must not block for long:
    /// `close` and partition changes wait for it.
    fn with_tree<T>(
        &self,
        partition: &Partition,
        args: Result<()>,
        f: impl FnOnce(&sled::Tree) -> Result<T>,
    ) -> Result<T> {
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        args?;
        f(open
            .trees
            .get(partition)
            .ok_or_else(|| not_found(partition))?)
    }

    /// Opens a scan of `range` whose items are `make(key, value, deadline)`.
    fn scan_with<O: Send + 'static>(
        &self,
        partition: &Partition,
        range: ScanRange,
        make: fn(Bytes, Bytes, Option<u64>) -> O,
    ) -> Result<BoxStream<'static, Result<O>>> {
        let tree = self.tree(partition, self.caps.check_scan_range(&range))?;
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        Ok(scan_tree(tree, range, make))
    }

    /// A clone of the tree of `partition` (for work on the blocking pool).
    fn tree(&self, partition: &Partition, args: Result<()>) -> Result<sled::Tree> {
        self.with_tree(partition, args, |tree| Ok(tree.clone()))
    }

    /// Stores `stored` under `key`, or removes the key when `None` (a delete, or a put
    /// whose TTL has already passed), and publishes what changed. A removal of an
    /// absent or expired key publishes nothing.
    fn write_one(
        &self,
        partition: &Partition,
        key: &[u8],
        args: Result<()>,
        stored: Option<Stored<'_>>,
    ) -> Result<()> {
        self.with_tree(partition, args, |tree| {
            self.committer.write_one(partition, key, || match stored {
                Some(stored) => {
                    tree.insert(key, value::ivec(stored)).map_err(sled_err)?;
                    Ok(Effect::Put(stored.value))
                }
                None => {
                    let old = tree.remove(key).map_err(sled_err)?;
                    let live = match old {
                        Some(old) => live_header_len(&old)?.is_some(),
                        None => false,
                    };
                    Ok(Effect::deleted_if(live))
                }
            })
        })
    }

    /// Best-effort removal of an expired value: a CAS on the exact stored bytes, so a
    /// newer write is never lost. Not a user-visible write: no watch event.
    fn reclaim(tree: &sled::Tree, key: &[u8], stored: &sled::IVec) {
        let _ = tree.compare_and_swap(key, Some(stored), None::<&[u8]>);
    }

    /// A conditional batch, blocking: validation in the contract's order, then the
    /// committer's locked run over the trees it names.
    fn run_batch(&self, checks: &[Check], operations: &[Operation]) -> Result<BatchOutcome> {
        let trees = {
            let state = self.state.read();
            let open = state.as_ref().ok_or(Error::Closed)?;
            validate_conditional_batch(&self.caps, NAME, checks, operations, |p| {
                open.trees.contains_key(p)
            })?;
            if checks.is_empty() && operations.is_empty() {
                return Ok(BatchOutcome::Applied);
            }
            let named = checks
                .iter()
                .map(|c| &c.partition)
                .chain(operations.iter().map(Operation::partition));
            BatchTrees::resolve(named, |p| open.trees.get(p).cloned())?
        };
        self.committer
            .run_batch(checks, operations, &trees, |writes| trees.commit(writes))
    }
}

/// Opens the store at `path` (described by `config`), retrying while its lock is held
/// for up to [`LOCK_WAIT`]; errors name `path`.
fn open_store(config: &sled::Config, path: &std::path::Path) -> Result<Open> {
    let started = std::time::Instant::now();
    let db = loop {
        match config.open() {
            Ok(db) => break db,
            Err(e) if is_lock_error(&e, path) => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(Error::locked(
                        format!("{} is open elsewhere", path.display()),
                        Some(Box::new(e)),
                    ));
                }
                std::thread::sleep(LOCK_RETRY);
            }
            Err(e) => return Err(sled_err_at("open", path, e)),
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
        let tree = db
            .open_tree(&name)
            .map_err(|e| sled_err_at("open", path, e))?;
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
        self.caps
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
        self.committer.hub().close_partition(partition);
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
        self.with_tree(partition, self.caps.check_key(key), |tree| {
            let Some(stored) = tree.get(key).map_err(sled_err)? else {
                return Ok(None);
            };
            match live_header_len(&stored)? {
                Some(header_len) => Ok(Some(value::user_bytes(stored, header_len))),
                None => {
                    Self::reclaim(tree, key, &stored);
                    Ok(None)
                }
            }
        })
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        let args = keys.iter().try_for_each(|k| self.caps.check_key(k));
        self.with_tree(partition, args, |tree| {
            keys.iter()
                .map(|key| {
                    let Some(stored) = tree.get(key).map_err(sled_err)? else {
                        return Ok(None);
                    };
                    Ok(live_header_len(&stored)?.map(|h| value::user_bytes(stored, h)))
                })
                .collect()
        })
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.with_tree(partition, self.caps.check_key(key), |tree| {
            match tree.get(key).map_err(sled_err)? {
                None => Ok(false),
                Some(stored) => Ok(live_header_len(&stored)?.is_some()),
            }
        })
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        let args = self
            .caps
            .check_key(key)
            .and_then(|()| self.caps.check_value(value));
        self.write_one(partition, key, args, Some(Stored::plain(value)))
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        let args = self
            .caps
            .check_key(key)
            .and_then(|()| self.caps.check_value(value));
        self.write_one(partition, key, args, Stored::for_put(value, &options))
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.write_one(partition, key, self.caps.check_key(key), None)
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        self.scan_with(partition, range, scan::pair)
    }

    /// Native: the deadline comes from each value's TTL header, read in the same walk.
    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.scan_with(partition, range, scan::entry)
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        self.run_batch(&[], &operations).map(drop)
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        self.run_batch(&checks, &operations)
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        // Subscribe under the registry lock, so a concurrent drop or close cannot slip
        // in between the check and the subscription.
        self.with_tree(partition, self.caps.check_prefix(prefix), |_| {
            Ok(self.committer.hub().subscribe(partition, prefix))
        })
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        let tree = self.tree(partition, Ok(()))?;
        let (_, bytes) = tokio::task::spawn_blocking(move || measure_tree(&tree))
            .await
            .map_err(join_err)??;
        Ok(bytes)
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        let tree = self.tree(partition, Ok(()))?;
        let (count, _) = tokio::task::spawn_blocking(move || measure_tree(&tree))
            .await
            .map_err(join_err)??;
        Ok(count)
    }

    async fn flush(&self) -> Result<()> {
        let db = {
            let state = self.state.read();
            state.as_ref().ok_or(Error::Closed)?.db.clone()
        };
        let syncer = self.syncer.clone();
        tokio::task::spawn_blocking(move || syncer.flush(&db))
            .await
            .map_err(join_err)?
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
        self.committer.hub().close_all();
        let syncer = self.syncer.clone();
        tokio::task::spawn_blocking(move || {
            let flushed = syncer.flush(&open.db);
            drop(open);
            flushed
        })
        .await
        .map_err(join_err)?
    }
}
