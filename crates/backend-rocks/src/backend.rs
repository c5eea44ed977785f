//! [`RocksBackend`] and its [`StorageBackend`] implementation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, Check, EntryStream, Error, KvStream, Operation, Partition,
    PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use backend_support::{Committer, Effect, Stored, live_value, validate_conditional_batch};
use futures_util::StreamExt;
use parking_lot::{Mutex, RwLock};
use rocksdb::{BoundColumnFamily, Cache, DB, ReadOptions, WriteOptions};

use crate::RocksConfig;
use crate::batch::Families;
use crate::engine::{CfName, Engine, open_db, partition_of};
use crate::error::{NAME, join_err, not_found, rocks_err};
use crate::scan::{scan_cf, scan_entries_cf};

/// The store while open: the database and the registry of partitions (mirrors the
/// column families, for listing without touching RocksDB).
struct Open {
    db: Arc<Engine>,
    partitions: BTreeSet<Partition>,
}

/// Everything a blocking task needs, shared behind one `Arc`.
struct Inner {
    config: RocksConfig,
    /// `config.capabilities()`, kept for the checks on every call.
    caps: Capabilities,
    state: RwLock<Option<Open>>,
    /// Serialises create/drop of column families.
    ddl: Mutex<()>,
    cache: Cache,
    committer: Committer,
    read_opts: ReadOptions,
    write_opts: WriteOptions,
}

/// A [`StorageBackend`] on RocksDB: each partition is a column family of one shared
/// database handle (multi-threaded column-family mode).
///
/// See the crate docs for capabilities, durability and how CAS, TTL and watch work.
pub struct RocksBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RocksBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksBackend")
            .field("path", &self.inner.config.path)
            .field("open", &self.inner.state.read().is_some())
            .finish()
    }
}

impl RocksBackend {
    /// Opens (creating if missing) the store at `config.path` with every partition it
    /// holds. A store held by another open handle answers [`Error::Locked`] after a
    /// short wait.
    pub async fn open(config: RocksConfig) -> Result<RocksBackend> {
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let (db, partitions) = {
            let (config, cache) = (config.clone(), cache.clone());
            tokio::task::spawn_blocking(move || -> Result<(Engine, BTreeSet<Partition>)> {
                let (db, names) = open_db(&config, &cache)?;
                let partitions = names
                    .iter()
                    .filter_map(|n| partition_of(n))
                    .collect::<Result<_>>()?;
                Ok((db, partitions))
            })
            .await
            .map_err(join_err)??
        };
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(config.sync_writes);
        Ok(RocksBackend {
            inner: Arc::new(Inner {
                committer: Committer::new(config.watch_capacity),
                caps: config.capabilities(),
                config,
                state: RwLock::new(Some(Open {
                    db: Arc::new(db),
                    partitions,
                })),
                ddl: Mutex::new(()),
                cache,
                read_opts: ReadOptions::default(),
                write_opts,
            }),
        })
    }

    /// The configuration this handle was opened with.
    pub fn config(&self) -> &RocksConfig {
        &self.inner.config
    }

    /// Runs a write inline, or on the blocking pool when every write fsyncs.
    async fn write<T, F>(&self, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        if self.inner.config.sync_writes {
            let inner = self.inner.clone();
            tokio::task::spawn_blocking(move || write(&inner))
                .await
                .map_err(join_err)?
        } else {
            write(&self.inner)
        }
    }

    /// Puts `stored` (or deletes the key when `None`) after `args`, the caller's
    /// argument check: inline, or on the blocking pool when every write fsyncs.
    async fn write_one(
        &self,
        partition: &Partition,
        key: &[u8],
        args: Result<()>,
        stored: Option<Stored<'_>>,
    ) -> Result<()> {
        if self.inner.config.sync_writes {
            self.inner.db()?;
            args?;
            let (p, key) = (partition.clone(), key.to_vec());
            let owned = stored.map(|s| (s.value.to_vec(), s.deadline));
            self.write(move |inner| {
                let stored = owned.as_ref().map(|(value, deadline)| Stored {
                    value,
                    deadline: *deadline,
                });
                inner.write_one(&p, &key, Ok(()), stored)
            })
            .await
        } else {
            self.inner.write_one(partition, key, args, stored)
        }
    }

    /// The database to scan `range` of `partition` in, after the checks in the
    /// contract's order; `None` when the range is empty (nothing to walk).
    fn scan_db(&self, partition: &Partition, range: &ScanRange) -> Result<Option<Arc<Engine>>> {
        let args = self.inner.caps.check_scan_range(range);
        let db = self
            .inner
            .with_cf(partition, args, |db, _| Ok(db.clone()))?;
        Ok((!range.is_empty()).then_some(db))
    }
}

impl Inner {
    fn db(&self) -> Result<Arc<Engine>> {
        self.state
            .read()
            .as_ref()
            .map(|o| o.db.clone())
            .ok_or(Error::Closed)
    }

    /// Runs `f` with the database and the column family of `partition`, holding the
    /// state's read lock (so `close` waits for it), in the contract's error order:
    /// `Closed`, then `args` (the caller's argument check), then `PartitionNotFound`.
    fn with_cf<T>(
        &self,
        partition: &Partition,
        args: Result<()>,
        f: impl FnOnce(&Arc<Engine>, &Arc<BoundColumnFamily<'_>>) -> Result<T>,
    ) -> Result<T> {
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        args?;
        let cf = open
            .db
            .cf_handle(CfName::new(partition).as_str())
            .ok_or_else(|| not_found(partition))?;
        f(&open.db, &cf)
    }

    /// Writes `stored` (or deletes the key when `None`, if it is live) and publishes
    /// what changed, under the key's stripe: events of one key are published in commit
    /// order, and a conditional batch holding the stripe never races a plain write. A
    /// delete of an absent or expired key writes nothing and publishes nothing.
    fn write_one(
        &self,
        partition: &Partition,
        key: &[u8],
        args: Result<()>,
        stored: Option<Stored<'_>>,
    ) -> Result<()> {
        self.with_cf(partition, args, |db, cf| {
            self.committer.write_one(partition, key, || match stored {
                Some(stored) => {
                    stored
                        .with_bytes(|bytes| db.put_cf_opt(cf, key, bytes, &self.write_opts))
                        .map_err(rocks_err)?;
                    Ok(Effect::Put(stored.value))
                }
                None => {
                    let live = match db
                        .get_pinned_cf_opt(cf, key, &self.read_opts)
                        .map_err(rocks_err)?
                    {
                        None => false,
                        Some(old) => live_value(&old)?.is_some(),
                    };
                    if live {
                        db.delete_cf_opt(cf, key, &self.write_opts)
                            .map_err(rocks_err)?;
                    }
                    Ok(Effect::deleted_if(live))
                }
            })
        })
    }

    /// A conditional batch (no checks: a plain batch), in the contract's error order:
    /// `Closed`, the arguments, the partitions; then the committer's locked run, whose
    /// writes go to RocksDB as one `WriteBatch`.
    fn conditional_batch(
        &self,
        checks: &[Check],
        operations: &[Operation],
    ) -> Result<BatchOutcome> {
        let state = self.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        validate_conditional_batch(&self.caps, NAME, checks, operations, |p| {
            open.db.cf_handle(CfName::new(p).as_str()).is_some()
        })?;
        let named = checks
            .iter()
            .map(|c| &c.partition)
            .chain(operations.iter().map(Operation::partition));
        let families = Families::resolve(&open.db, named, self.caps.max_key_len)?;
        if checks.is_empty() && operations.is_empty() {
            return Ok(BatchOutcome::Applied);
        }
        self.committer
            .run_batch(checks, operations, &families, |writes| {
                families.commit(writes, &self.write_opts)
            })
    }
}

fn live_bytes(stored: &[u8]) -> Result<Option<Bytes>> {
    Ok(live_value(stored)?.map(Bytes::copy_from_slice))
}

fn int_property(db: &DB, cf: &Arc<BoundColumnFamily<'_>>, name: &str) -> Result<u64> {
    Ok(db
        .property_int_value_cf(cf, name)
        .map_err(rocks_err)?
        .unwrap_or(0))
}

#[async_trait]
impl StorageBackend for RocksBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        let db = self.inner.db()?;
        if db.cf_handle(CfName::new(partition).as_str()).is_some() {
            return Ok(());
        }
        let (inner, p) = (self.inner.clone(), partition.clone());
        tokio::task::spawn_blocking(move || {
            let _ddl = inner.ddl.lock();
            let name = CfName::new(&p);
            if db.cf_handle(name.as_str()).is_none() {
                db.create_cf(name.as_str())?;
            }
            let mut state = inner.state.write();
            state.as_mut().ok_or(Error::Closed)?.partitions.insert(p);
            Ok(())
        })
        .await
        .map_err(join_err)?
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        let db = self.inner.db()?;
        let (inner, p) = (self.inner.clone(), partition.clone());
        tokio::task::spawn_blocking(move || {
            let _ddl = inner.ddl.lock();
            let name = CfName::new(&p);
            if db.cf_handle(name.as_str()).is_none() {
                return Err(not_found(&p));
            }
            db.drop_cf(name.as_str()).map_err(rocks_err)?;
            if let Some(open) = inner.state.write().as_mut() {
                open.partitions.remove(&p);
            }
            inner.committer.hub().close_partition(&p);
            Ok(())
        })
        .await
        .map_err(join_err)?
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        let state = self.inner.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        Ok(open.partitions.contains(partition))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        let state = self.inner.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        Ok(open.partitions.iter().cloned().collect())
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner
            .with_cf(partition, self.inner.caps.check_key(key), |db, cf| match db
                .get_pinned_cf_opt(cf, key, &self.inner.read_opts)
                .map_err(rocks_err)?
            {
                None => Ok(None),
                Some(stored) => live_bytes(&stored),
            })
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        let args = keys.iter().try_for_each(|k| self.inner.caps.check_key(k));
        self.inner.with_cf(partition, args, |db, cf| {
            db.batched_multi_get_cf_opt(cf, keys.iter(), false, &self.inner.read_opts)
                .into_iter()
                .map(|item| match item.map_err(rocks_err)? {
                    None => Ok(None),
                    Some(stored) => live_bytes(&stored),
                })
                .collect()
        })
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.inner
            .with_cf(partition, self.inner.caps.check_key(key), |db, cf| match db
                .get_pinned_cf_opt(cf, key, &self.inner.read_opts)
                .map_err(rocks_err)?
            {
                None => Ok(false),
                Some(stored) => Ok(live_value(&stored)?.is_some()),
            })
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        let args = self
            .inner
            .caps
            .check_key(key)
            .and_then(|()| self.inner.caps.check_value(value));
        self.write_one(partition, key, args, Some(Stored::plain(value)))
            .await
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        let args = self
            .inner
            .caps
            .check_key(key)
            .and_then(|()| self.inner.caps.check_value(value));
        self.write_one(partition, key, args, Stored::for_put(value, &options))
            .await
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.write_one(partition, key, self.inner.caps.check_key(key), None)
            .await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        match self.scan_db(partition, &range)? {
            Some(db) => scan_cf(db, partition.clone(), range).await,
            None => Ok(futures_util::stream::empty().boxed()),
        }
    }

    /// Native: the deadline comes from each value's TTL header, read in the same walk
    /// over the same snapshot.
    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        match self.scan_db(partition, &range)? {
            Some(db) => scan_entries_cf(db, partition.clone(), range).await,
            None => Ok(futures_util::stream::empty().boxed()),
        }
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        self.conditional_batch(Vec::new(), operations)
            .await
            .map(drop)
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        if self.inner.config.sync_writes {
            self.write(move |inner| inner.conditional_batch(&checks, &operations))
                .await
        } else {
            self.inner.conditional_batch(&checks, &operations)
        }
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        // Subscribe while holding the state lock, so a concurrent close cannot slip in.
        self.inner
            .with_cf(partition, self.inner.caps.check_prefix(prefix), |_, _| {
                Ok(self.inner.committer.hub().subscribe(partition, prefix))
            })
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        self.inner.with_cf(partition, Ok(()), |db, cf| {
            // SST data from RocksDB's live-data estimate, plus the memtables when they
            // hold anything (an empty memtable still reports its arena).
            let mut size = int_property(db, cf, "rocksdb.estimate-live-data-size")?;
            let entries = int_property(db, cf, "rocksdb.num-entries-active-mem-table")?
                + int_property(db, cf, "rocksdb.num-entries-imm-mem-tables")?;
            if entries > 0 {
                size += int_property(db, cf, "rocksdb.cur-size-all-mem-tables")?;
            }
            Ok(size)
        })
    }

    async fn compact(&self, partition: &Partition) -> Result<()> {
        let db = self
            .inner
            .with_cf(partition, Ok(()), |db, _| Ok(db.clone()))?;
        let p = partition.clone();
        tokio::task::spawn_blocking(move || {
            let cf = db
                .cf_handle(CfName::new(&p).as_str())
                .ok_or_else(|| not_found(&p))?;
            // Flushes the memtable first, then rewrites every level down to the
            // bottommost one; the TTL compaction filter drops expired values.
            db.compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
            Ok(())
        })
        .await
        .map_err(join_err)?
    }

    async fn flush(&self) -> Result<()> {
        let (db, partitions) = {
            let state = self.inner.state.read();
            let open = state.as_ref().ok_or(Error::Closed)?;
            (open.db.clone(), open.partitions.clone())
        };
        tokio::task::spawn_blocking(move || {
            db.flush_wal(true).map_err(rocks_err)?;
            for p in &partitions {
                if let Some(cf) = db.cf_handle(CfName::new(p).as_str()) {
                    db.flush_cf(&cf).map_err(rocks_err)?;
                }
            }
            Ok(())
        })
        .await
        .map_err(join_err)?
    }

    async fn status(&self) -> Result<Status> {
        let state = self.inner.state.read();
        let open = state.as_ref().ok_or(Error::Closed)?;
        let db = &open.db;
        let mut status = BTreeMap::new();
        let per_family = [
            ("estimate_num_keys", "rocksdb.estimate-num-keys"),
            ("estimate_live_data_size", "rocksdb.estimate-live-data-size"),
            ("total_sst_files_size", "rocksdb.total-sst-files-size"),
            ("cur_size_all_mem_tables", "rocksdb.cur-size-all-mem-tables"),
            ("num_live_versions", "rocksdb.num-live-versions"),
            (
                "estimate_pending_compaction_bytes",
                "rocksdb.estimate-pending-compaction-bytes",
            ),
        ];
        let mut totals = [0u64; 6];
        for p in &open.partitions {
            if let Some(cf) = db.cf_handle(CfName::new(p).as_str()) {
                for (total, (_, property)) in totals.iter_mut().zip(per_family) {
                    *total += int_property(db, &cf, property)?;
                }
            }
        }
        for (total, (name, _)) in totals.iter().zip(per_family) {
            status.insert(name.to_owned(), total.to_string());
        }
        for (name, property) in [
            ("num_running_compactions", "rocksdb.num-running-compactions"),
            ("num_running_flushes", "rocksdb.num-running-flushes"),
            ("background_errors", "rocksdb.background-errors"),
        ] {
            let value = db.property_int_value(property).map_err(rocks_err)?;
            status.insert(name.to_owned(), value.unwrap_or(0).to_string());
        }
        status.insert(
            "block_cache_usage".into(),
            self.inner.cache.get_usage().to_string(),
        );
        status.insert(
            "block_cache_capacity".into(),
            self.inner.config.block_cache_bytes.to_string(),
        );
        status.insert("partitions".into(), open.partitions.len().to_string());
        status.insert("engine".into(), "rocksdb".into());
        status.insert("path".into(), self.inner.config.path.display().to_string());
        status.insert(
            "sync_writes".into(),
            self.inner.config.sync_writes.to_string(),
        );
        status.insert(
            "compression".into(),
            format!("{:?}", self.inner.config.compression),
        );
        Ok(status)
    }

    async fn close(&self) -> Result<()> {
        let Some(open) = self.inner.state.write().take() else {
            return Ok(());
        };
        self.inner.committer.hub().close_all();
        tokio::task::spawn_blocking(move || {
            // The WAL already holds every acknowledged write; syncing it makes them
            // survive power loss too. Dropping the last handle closes the database and
            // releases its LOCK.
            let synced = open.db.flush_wal(true);
            drop(open);
            synced.map_err(rocks_err)
        })
        .await
        .map_err(join_err)?
    }
}
