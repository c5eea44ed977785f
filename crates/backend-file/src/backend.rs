//! [`FileBackend`]: the [`StorageBackend`] adapter over the store.
//!
//! Argument checks, the async side of every call (blocking work on the blocking pool,
//! durability waits off the executor) and the automatic merge trigger; the engine is in
//! `store`.

use std::pin::Pin;
use std::sync::Arc;

use backend_api::{
    BatchOutcome, Capabilities, CasOutcome, Check, Entry, EntryStream, KvStream, Operation,
    Partition, PutOptions, Result, ScanRange, Status, StorageBackend, Stream, WatchStream,
    async_trait,
};
use backend_support::{blocking_stream_with, cas_as_batch, cas_outcome, ttl};
use bytes::Bytes;

use crate::config::{FileConfig, SyncPolicy};
use crate::error::{NAME, spawn_failed, task_failed};
use crate::format::Kind;
use crate::merge::{merge, start_background};
use crate::plan::{Op, pid_of};
use crate::recovery::RecoveryReport;
use crate::store::durable::periodic_sync;
use crate::store::write::expiry_of;
use crate::store::{MergeStats, Store, Written};
use crate::{scan, seal};

/// A Bitcask-style log-structured store in one directory.
///
/// Writes append to one active file; an ordered keydir in RAM maps every live key to
/// its newest record, so a get is one map lookup and one positioned read. See the crate
/// docs for durability and `docs/file-format.md` for the bytes on disk.
#[derive(Clone)]
pub struct FileBackend {
    store: Arc<Store>,
}

impl std::fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBackend")
            .field("dir", &self.store.cfg.dir)
            .finish()
    }
}

impl FileBackend {
    /// Opens (creating if needed) the store in `config.dir`.
    ///
    /// Recovery runs on the blocking pool: an interrupted merge is finished or discarded,
    /// hint files are loaded (or their data files scanned), a torn tail is cut back.
    /// Errors: [`Error::Locked`](backend_api::Error::Locked) if another handle or process has the directory open,
    /// [`Error::Corruption`](backend_api::Error::Corruption) naming file and offset for a bad record in the middle of a
    /// file (unless [`FileConfig::repair`]), [`Error::UnsupportedVersion`](backend_api::Error::UnsupportedVersion) for a file
    /// of a format version this build does not read, [`Error::InvalidConfig`](backend_api::Error::InvalidConfig),
    /// [`Error::Io`](backend_api::Error::Io) naming the path.
    pub async fn open(config: FileConfig) -> Result<FileBackend> {
        config.validate()?;
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::spawn_blocking(move || Self::open_blocking(config))
                .await
                .map_err(task_failed)?,
            Err(_) => Self::open_blocking(config),
        }
    }

    fn open_blocking(cfg: FileConfig) -> Result<FileBackend> {
        let store = Store::open(cfg)?;
        if !store.report.dropped.is_empty() {
            // Repair mode dropped ranges: rewrite everything so they are gone from disk.
            merge(&store)?;
        }
        seal::spawn(&store)?;
        if let SyncPolicy::EveryMs(ms) = store.cfg.sync {
            let weak = Arc::downgrade(&store);
            std::thread::Builder::new()
                .name("backend-file-sync".into())
                .spawn(move || periodic_sync(weak, ms))
                .map_err(spawn_failed)?;
        }
        Ok(FileBackend { store })
    }

    /// What open found and did: hints used or rejected, torn tails cut, ranges dropped
    /// in repair mode, an interrupted merge finished, orphan files removed.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.store.report
    }

    /// Runs a merge now (whatever the dead-bytes ratio) and says what it did.
    pub async fn merge(&self) -> Result<MergeStats> {
        self.store.check_open()?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || merge(&store))
            .await
            .map_err(task_failed)?
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &FileConfig {
        &self.store.cfg
    }

    /// After a write (`seq` 0: nothing written): durability wait, merge trigger.
    async fn finish_write(&self, written: Written) -> Result<()> {
        if written.seq == 0 {
            return Ok(());
        }
        if self.store.cfg.sync == SyncPolicy::Always {
            self.wait_durable(written.seq).await?;
        }
        if written.merge_due {
            start_background(&self.store);
        }
        Ok(())
    }

    /// Waits for group commit to cover `seq` without stalling the async executor: in
    /// place on a multi-threaded runtime, on the blocking pool otherwise.
    async fn wait_durable(&self, seq: u64) -> Result<()> {
        if self.store.commit.synced() >= seq {
            return Ok(());
        }
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| self.store.wait_durable(seq))
        } else {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.wait_durable(seq))
                .await
                .map_err(task_failed)?
        }
    }

    async fn put_inner(&self, p: &Partition, key: &[u8], value: &[u8], expiry: u64) -> Result<()> {
        self.store.check_open()?;
        self.store.caps.check_key(key)?;
        self.store.caps.check_value(value)?;
        let written = self.store.write_one(p, Kind::Put, key, value, expiry)?;
        self.finish_write(written).await
    }

    async fn write_ops<'a>(
        &self,
        ops: impl FnOnce(&crate::keydir::State) -> Result<Vec<Op<'a>>>,
    ) -> Result<()> {
        self.store.check_open()?;
        let written = self.store.write_ops(ops, false)?;
        self.finish_write(written).await
    }

    async fn conditional(&self, checks: &[Check], ops: &[Operation]) -> Result<BatchOutcome> {
        self.store.check_open()?;
        let (outcome, written) = self.store.conditional(checks, ops)?;
        self.finish_write(written).await?;
        Ok(outcome)
    }

    /// A scan's live items, each turned into the stream's item by `convert` as it is
    /// polled: the one producer behind `scan` and `scan_entries`.
    fn stream<O: Send + 'static>(
        &self,
        partition: &Partition,
        range: ScanRange,
        convert: impl FnMut(scan::Item) -> O + Send + Unpin + 'static,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<O>> + Send>>> {
        self.store.check_open()?;
        self.store.caps.check_scan_range(&range)?;
        let pid = self.part_id(partition)?;
        let store = self.store.clone();
        let name = partition.name().to_owned();
        Ok(blocking_stream_with(
            move |emit| scan::produce(&store, &name, pid, &range, emit),
            convert,
        ))
    }

    fn part_id(&self, p: &Partition) -> Result<u32> {
        pid_of(&self.store.state.read(), p)
    }
}

#[async_trait]
impl StorageBackend for FileBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.store.caps
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        let name = partition.name().as_bytes();
        self.write_ops(|st| {
            if st.parts.contains_key(partition.name()) {
                return Ok(Vec::new());
            }
            Ok(vec![Op::new(partition, 0, Kind::CreatePartition, name)])
        })
        .await
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        let name = partition.name().as_bytes();
        self.write_ops(|st| {
            let pid = pid_of(st, partition)?;
            Ok(vec![Op::new(partition, pid, Kind::DropPartition, name)])
        })
        .await
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        self.store.check_open()?;
        Ok(self.store.state.read().parts.contains_key(partition.name()))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.store.check_open()?;
        let st = self.store.state.read();
        st.parts.keys().map(Partition::parse).collect()
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.store.check_open()?;
        self.store.caps.check_key(key)?;
        self.store.get_async(partition, key).await
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.store.check_open()?;
        for key in keys {
            self.store.caps.check_key(key)?;
        }
        // Checked even for an empty list.
        self.part_id(partition)?;
        let mut values = Vec::with_capacity(keys.len());
        for k in keys {
            values.push(self.store.get_async(partition, k).await?);
        }
        Ok(values)
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.store.check_open()?;
        self.store.caps.check_key(key)?;
        self.store.exists(partition, key)
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        // The inherent helper, not `put_with`: one boxed future per call, not two.
        self.put_inner(partition, key, value, 0).await
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.put_inner(partition, key, value, expiry_of(&options))
            .await
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.store.check_open()?;
        self.store.caps.check_key(key)?;
        let written = self.store.write_one(partition, Kind::Delete, key, b"", 0)?;
        self.finish_write(written).await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        self.stream(partition, range, |i| (i.key, i.value))
    }

    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.stream(partition, range, |i| {
            let deadline = (i.expiry != 0).then(|| ttl::deadline_time(i.expiry));
            Entry::new(i.key, i.value, deadline.flatten())
        })
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        self.conditional(&[], &operations).await.map(|_| ())
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        self.conditional(&checks, &operations).await
    }

    async fn compare_and_swap(
        &self,
        partition: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let (check, write) = cas_as_batch(partition, key, expected, new);
        Ok(cas_outcome(self.conditional(&[check], &[write]).await?))
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        self.store.check_open()?;
        self.store.caps.check_prefix(prefix)?;
        // Under the writer lock: no write lands between the check and the subscription.
        let _w = self.store.writer.lock();
        self.part_id(partition)?;
        Ok(self.store.watch.subscribe(partition, prefix))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        self.store.check_open()?;
        Ok(Store::part(&self.store.state.read(), partition)?.user_bytes)
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        self.store.check_open()?;
        let st = self.store.state.read();
        Ok(Store::part(&st, partition)?.live_len(ttl::now_ms()))
    }

    async fn is_empty(&self, partition: &Partition) -> Result<bool> {
        self.store.check_open()?;
        let st = self.store.state.read();
        let now = ttl::now_ms();
        let p = Store::part(&st, partition)?;
        Ok(!p.keys().values().any(|e| !e.expired(now)))
    }

    async fn compact(&self, partition: &Partition) -> Result<()> {
        self.store.check_open()?;
        self.part_id(partition)?;
        self.merge().await.map(|_| ())
    }

    async fn flush(&self) -> Result<()> {
        self.store.check_open()?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.sync_written())
            .await
            .map_err(task_failed)?
    }

    async fn status(&self) -> Result<Status> {
        self.store.check_open()?;
        Ok(self.store.status())
    }

    async fn close(&self) -> Result<()> {
        if self
            .store
            .closed
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return Ok(());
        }
        self.store.bg.wake.notify();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || seal::close(&store))
            .await
            .map_err(task_failed)?
    }
}
