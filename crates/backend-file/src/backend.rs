//! [`FileBackend`] and its [`StorageBackend`] implementation.

use crate::files::IoAt;
use std::fs::File;
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::seal::SealQueue;
use std::time::Duration;

use backend_api::{
    BatchOutcome, Capabilities, CasOutcome, Check, Error, KvStream, Operation, Partition,
    PutOptions, Result, ScanRange, Status, StorageBackend, WatchEvent, WatchStream, async_trait,
};
use backend_support::{
    RangeCursor, WatchHub, blocking_stream, cas_as_batch, cas_outcome, ttl,
    validate_conditional_batch,
};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::config::{FileConfig, SyncPolicy};
use crate::format::{
    FILE_HEADER_LEN, FLAG_BATCH, FLAG_BEGIN, FLAG_END, Kind, Limits, RECORD_HEADER_LEN,
    RecordHeader, encode_range, record_crc_ok,
};
use crate::keydir::{Entry, PartState, State};
use crate::merge::{MergeStats, merge};
use crate::plan::{Op, pid_of, plan};
use crate::recovery::{RecoveryReport, recover};
use crate::writer::{GroupCommit, Writer, create_data_file};

const NAME: &str = "file";
const SCAN_CHUNK: usize = 256;

/// A Bitcask-style log-structured store in one directory.
///
/// Writes append to one active file; an ordered keydir in RAM maps every live key to
/// its newest record, so a get is one map lookup and one positioned read. See the crate
/// docs for durability and `docs/file-format.md` for the bytes on disk.
#[derive(Clone)]
pub struct FileBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBackend")
            .field("dir", &self.inner.cfg.dir)
            .finish()
    }
}

/// Shared state of one open store.
pub(crate) struct Inner {
    pub cfg: FileConfig,
    pub caps: Capabilities,
    pub state: RwLock<State>,
    pub writer: Mutex<Writer>,
    pub commit: GroupCommit,
    pub merge_lock: Mutex<()>,
    pub merging: AtomicBool,
    pub closed: AtomicBool,
    pub lock_file: Mutex<Option<File>>,
    pub watch: WatchHub,
    pub report: RecoveryReport,
    pub merges: AtomicU64,
    pub last_merge: Mutex<Option<MergeStats>>,
    /// Limits every length read back from disk is checked against.
    pub limits: Limits,
    /// Rotated files waiting for their hint.
    pub seals: SealQueue,
    /// This store itself, for threads started from `&Inner`.
    pub me: Weak<Inner>,
}

/// What an append did.
#[derive(Clone, Copy, Default)]
pub(crate) struct Written {
    /// Sequence number of the last record written; 0: nothing was written.
    seq: u64,
    /// The store is past the automatic merge trigger.
    merge_due: bool,
}

impl FileBackend {
    /// Opens (creating if needed) the store in `config.dir`.
    ///
    /// Recovery runs on the blocking pool: an interrupted merge is finished or discarded,
    /// hint files are loaded (or their data files scanned), a torn tail is cut back.
    /// Errors: [`Error::Locked`] if another handle or process has the directory open,
    /// [`Error::Corruption`] naming file and offset for a bad record in the middle of a
    /// file (unless [`FileConfig::repair`]), [`Error::InvalidConfig`], [`Error::Io`].
    pub async fn open(config: FileConfig) -> Result<FileBackend> {
        config.validate()?;
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::spawn_blocking(move || Self::open_blocking(config))
                .await
                .map_err(|e| Error::backend(NAME, e))?,
            Err(_) => Self::open_blocking(config),
        }
    }

    fn open_blocking(cfg: FileConfig) -> Result<FileBackend> {
        let caps = Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            snapshot_scan: false,
            atomic_batch: true,
            cross_partition_batch: true,
            compare_and_swap: true,
            conditional_batch: true,
            range_delete: true,
            watch: true,
            cross_process_watch: false,
            ttl: true,
            persistent: true,
            compact: true,
            exact_len: true,
            max_key_len: backend_api::DEFAULT_MAX_KEY_LEN,
            max_value_len: cfg.max_value_len(),
        };
        let limits = Limits {
            max_key_len: caps.max_key_len,
            max_value_len: caps.max_value_len,
            max_record_size: cfg.max_record_size,
        };
        let mut rec = recover(&cfg, &limits)?;
        let (file, file_id, offset) = match rec.active.take() {
            Some((id, file, offset)) => (Some(file), id, offset),
            None => (None, 0, 0),
        };
        let writer = Writer {
            file,
            file_id,
            offset,
            next_seq: rec.next_seq,
            next_file_id: rec.next_file_id,
            next_pid: rec.next_pid,
            last_seq: 0,
            buf: Vec::with_capacity(512),
            entries: Vec::with_capacity(1),
            unsynced: Vec::new(),
        };
        let repaired = !rec.report.dropped.is_empty();
        let inner = Arc::new_cyclic(|me| Inner {
            watch: WatchHub::new(cfg.watch_capacity),
            caps,
            state: RwLock::new(rec.state),
            writer: Mutex::new(writer),
            commit: GroupCommit::default(),
            merge_lock: Mutex::new(()),
            merging: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            lock_file: Mutex::new(Some(rec.lock)),
            report: rec.report,
            merges: AtomicU64::new(0),
            last_merge: Mutex::new(None),
            limits,
            seals: SealQueue::default(),
            me: me.clone(),
            cfg,
        });
        if repaired {
            // Rewrite everything so the dropped ranges are gone from disk.
            merge(&inner)?;
        }
        if let SyncPolicy::EveryMs(ms) = inner.cfg.sync {
            let weak = Arc::downgrade(&inner);
            std::thread::Builder::new()
                .name("backend-file-sync".into())
                .spawn(move || periodic_sync(weak, ms))
                .at(&inner.cfg.dir)?;
        }
        Ok(FileBackend { inner })
    }

    /// What open found and did: hints used or rejected, torn tails cut, ranges dropped
    /// in repair mode, an interrupted merge finished, orphan files removed.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    /// Runs a merge now (whatever the dead-bytes ratio) and says what it did.
    pub async fn merge(&self) -> Result<MergeStats> {
        self.inner.check_open()?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || merge(&inner))
            .await
            .map_err(|e| Error::backend(NAME, e))?
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &FileConfig {
        &self.inner.cfg
    }

    /// Writes `ops` (one record, or one framed batch), then under `SyncPolicy::Always`
    /// waits for them to be durable.
    async fn write<'a>(
        &self,
        ops: impl FnOnce(&State) -> Result<Vec<Op<'a>>>,
        batch: bool,
    ) -> Result<()> {
        let written = {
            let inner = &*self.inner;
            let mut w = inner.writer.lock();
            inner.check_writable()?;
            let mut ops = ops(&inner.state.read())?;
            for o in &mut ops {
                if o.kind == Kind::CreatePartition {
                    o.pid = w.next_pid;
                    w.next_pid += 1;
                }
            }
            inner.append(&mut w, &ops, batch)?
        };
        self.finish_write(written).await
    }

    /// Writes one put or delete record (the common case, without building a list):
    /// partition resolved and record appended under the writer lock. A delete of a key
    /// that is absent or expired writes nothing.
    async fn write_one(
        &self,
        partition: &Partition,
        kind: Kind,
        key: &[u8],
        value: &[u8],
        expiry: u64,
    ) -> Result<()> {
        let written = {
            let inner = &*self.inner;
            let mut w = inner.writer.lock();
            inner.check_writable()?;
            let o = {
                let st = inner.state.read();
                let p = self.part(&st, partition)?;
                if kind == Kind::Delete && !live_in(p, key) {
                    return Ok(());
                }
                Op {
                    value,
                    expiry,
                    ..Op::new(partition, p.id, kind, key)
                }
            };
            inner.append(&mut w, std::slice::from_ref(&o), false)?
        };
        self.finish_write(written).await
    }

    /// After a write (`seq` 0: nothing written): durability wait, merge trigger.
    async fn finish_write(&self, written: Written) -> Result<()> {
        if written.seq == 0 {
            return Ok(());
        }
        if self.inner.cfg.sync == SyncPolicy::Always {
            self.wait_durable(written.seq).await?;
        }
        if written.merge_due {
            self.start_merge();
        }
        Ok(())
    }

    /// Waits for group commit to cover `seq` without stalling the async executor: in
    /// place on a multi-threaded runtime, on the blocking pool otherwise.
    async fn wait_durable(&self, seq: u64) -> Result<()> {
        if self.inner.commit.synced() >= seq {
            return Ok(());
        }
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| self.inner.wait_durable(seq))
        } else {
            let inner = self.inner.clone();
            tokio::task::spawn_blocking(move || inner.wait_durable(seq))
                .await
                .map_err(|e| Error::backend(NAME, e))?
        }
    }

    /// Starts an automatic merge on its own thread unless one is running.
    fn start_merge(&self) {
        if self.inner.merging.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("backend-file-merge".into())
            .spawn(move || {
                let _ = merge(&inner);
                inner.merging.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.inner.merging.store(false, Ordering::Release);
        }
    }

    async fn put_inner(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        expiry: u64,
    ) -> Result<()> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.inner.caps.check_value(value)?;
        self.write_one(partition, Kind::Put, key, value, expiry)
            .await
    }

    fn part<'s>(&self, st: &'s State, p: &Partition) -> Result<&'s PartState> {
        st.parts
            .get(p.name())
            .ok_or_else(|| Error::PartitionNotFound(p.name().to_owned()))
    }

    fn get_sync(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.check_open()?;
        let found = {
            let st = self.inner.state.read();
            match self.part(&st, p)?.keys.get(key) {
                Some(e) if e.expiry == 0 || !e.expired(ttl::now_ms()) => {
                    Some((*e, st.files.get(&e.file_id).cloned()))
                }
                _ => None,
            }
        };
        match found {
            None => Ok(None),
            Some((e, Some(file))) => read_value(&file, &e, key).map(Some),
            Some((e, None)) => Err(Error::corruption(format!(
                "data file {} is missing",
                e.file_id
            ))),
        }
    }

    /// True when `key` has a live (unexpired) entry in `p`.
    fn exists_sync(&self, p: &Partition, key: &[u8]) -> Result<bool> {
        let st = self.inner.state.read();
        Ok(live_in(self.part(&st, p)?, key))
    }

    /// The one write path of `batch`, `conditional_batch` and `compare_and_swap`.
    ///
    /// Validates under the writer lock (arguments of the checks and operations in order,
    /// then every partition named), evaluates the checks (an expired key is
    /// absent) and appends the operations as one framed write: no other write can land
    /// between the checks and the append. A delete of a key absent at its point of the
    /// batch, and a range delete that removes no live key, write nothing.
    async fn conditional(
        &self,
        checks: &[Check],
        operations: &[Operation],
    ) -> Result<BatchOutcome> {
        let inner = &*self.inner;
        inner.check_open()?;
        let expiries: Vec<u64> = operations
            .iter()
            .map(|o| match o {
                Operation::Put { options, .. } => expiry_of(options),
                _ => 0,
            })
            .collect();
        let ranges: Vec<Vec<u8>> = operations
            .iter()
            .map(|o| match o {
                Operation::DeleteRange { range, .. } => encode_range(range),
                _ => Vec::new(),
            })
            .collect();
        let written = {
            let mut w = inner.writer.lock();
            inner.check_open()?;
            {
                let st = inner.state.read();
                validate_conditional_batch(&inner.caps, NAME, checks, operations, |p| {
                    st.parts.contains_key(p.name())
                })?;
            }
            inner.check_writable()?;
            for (index, check) in checks.iter().enumerate() {
                let current = match &check.expected {
                    None if !self.exists_sync(&check.partition, &check.key)? => None,
                    _ => self.get_sync(&check.partition, &check.key)?,
                };
                if !check.holds(current.as_deref()) {
                    return Ok(BatchOutcome::CheckFailed { index, current });
                }
            }
            let ops = plan(&inner.state.read(), operations, &expiries, &ranges)?;
            inner.append(&mut w, &ops, ops.len() > 1)?
        };
        self.finish_write(written).await?;
        Ok(BatchOutcome::Applied)
    }
}

/// True when `key` has a live (unexpired) entry in `p`.
fn live_in(p: &PartState, key: &[u8]) -> bool {
    p.keys
        .get(key)
        .is_some_and(|e| e.expiry == 0 || !e.expired(ttl::now_ms()))
}

impl Inner {
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        match self.commit.failure() {
            Some(why) => Err(Error::backend(
                NAME,
                format!("{why}; the store refuses writes, close and reopen it"),
            )),
            None => Ok(()),
        }
    }

    /// The active file, created if there is none. Writer lock held.
    fn ensure_active(&self, w: &mut Writer) -> Result<Arc<File>> {
        if let Some(f) = &w.file {
            return Ok(f.clone());
        }
        let id = w.next_file_id;
        w.next_file_id += 1;
        let file = Arc::new(create_data_file(&self.cfg.dir, id, 0, w.next_seq).at(&self.cfg.dir)?);
        {
            let mut st = self.state.write();
            st.files.insert(id, file.clone());
            st.grew(id, FILE_HEADER_LEN as u64);
        }
        w.file = Some(file.clone());
        w.file_id = id;
        w.offset = FILE_HEADER_LEN as u64;
        Ok(file)
    }

    /// Appends `ops` as one write, updates the keydir and tells watchers. Returns the
    /// last sequence number written (0 if `ops` is empty) and whether the write took the
    /// store past the merge trigger. Writer lock held.
    fn append(&self, w: &mut Writer, ops: &[Op<'_>], batch: bool) -> Result<Written> {
        if ops.is_empty() {
            return Ok(Written::default());
        }
        let total: u64 = ops
            .iter()
            .map(|o| (RECORD_HEADER_LEN + o.key.len() + o.value.len()) as u64)
            .sum();
        if w.file.is_some()
            && w.offset > FILE_HEADER_LEN as u64
            && w.offset + total > self.cfg.max_file_size
        {
            self.seal(w, true);
        }
        let file = self.ensure_active(w)?;
        let first = w.take_seqs(ops.len() as u64);
        let mut buf = std::mem::take(&mut w.buf);
        buf.clear();
        let mut entries = std::mem::take(&mut w.entries);
        entries.clear();
        let last = ops.len() - 1;
        for (i, op) in ops.iter().enumerate() {
            let flags = if batch {
                FLAG_BATCH
                    | if i == 0 { FLAG_BEGIN } else { 0 }
                    | if i == last { FLAG_END } else { 0 }
            } else {
                0
            };
            let h = RecordHeader {
                kind: op.kind,
                flags,
                partition: op.pid,
                seq: first + i as u64,
                expiry: op.expiry,
                key_len: op.key.len() as u32,
                value_len: op.value.len() as u32,
            };
            let offset = w.offset + buf.len() as u64;
            h.encode_into(op.key, op.value, &mut buf);
            entries.push(Entry {
                file_id: w.file_id,
                offset,
                len: h.total_len() as u32,
                seq: h.seq,
                expiry: op.expiry,
            });
        }
        w.buf = buf;
        if let Err(e) = w.append_buf(&file) {
            self.commit.poison(format!("write failed: {e}"));
            w.entries = entries;
            return Err(Error::io(&self.cfg.dir, e));
        }
        w.last_seq = first + last as u64;
        let merge_due = {
            let mut guard = self.state.write();
            let st = &mut *guard;
            st.grew(w.file_id, total);
            for (op, e) in ops.iter().zip(&entries) {
                match op.kind {
                    Kind::Put | Kind::Delete => {
                        let Some(p) = st.parts.get_mut(op.name) else {
                            continue;
                        };
                        let old = if op.kind == Kind::Put {
                            st.live_bytes += u64::from(e.len);
                            p.insert(Bytes::copy_from_slice(op.key), *e)
                        } else {
                            p.remove(op.key)
                        };
                        if let Some(old) = old {
                            st.live_bytes -= u64::from(old.len);
                        }
                    }
                    Kind::CreatePartition => {
                        st.parts.insert(
                            op.name.to_owned(),
                            PartState {
                                id: op.pid,
                                create_seq: e.seq,
                                ..PartState::default()
                            },
                        );
                    }
                    Kind::DropPartition => {
                        if let Some(p) = st.parts.remove(op.name) {
                            st.live_bytes -= p.keys.values().map(|e| u64::from(e.len)).sum::<u64>();
                        }
                    }
                    Kind::DeleteRange => {
                        let (Some(p), Some(range)) = (st.parts.get_mut(op.name), op.range) else {
                            continue;
                        };
                        let mut cursor = RangeCursor::new(range);
                        while let Some(key) = cursor.next_key(&p.keys) {
                            if let Some(old) = p.remove(&key) {
                                st.live_bytes -= u64::from(old.len);
                            }
                        }
                    }
                }
            }
            self.cfg.merge_trigger.is_some_and(|ratio| {
                st.total_bytes >= self.cfg.merge_min_bytes
                    && st.dead_bytes() as f64 > ratio * st.total_bytes as f64
            }) && !self.merging.load(Ordering::Relaxed)
        };
        w.entries = entries;
        for op in ops {
            match op.kind {
                Kind::Put if self.watch.is_watched(op.part) => self.watch.publish(
                    op.part,
                    WatchEvent::Put {
                        key: Bytes::copy_from_slice(op.key),
                        value: Bytes::copy_from_slice(op.value),
                    },
                ),
                Kind::Delete if self.watch.is_watched(op.part) => self.watch.publish(
                    op.part,
                    WatchEvent::Delete {
                        key: Bytes::copy_from_slice(op.key),
                    },
                ),
                // Planned only when it removes a live key.
                Kind::DeleteRange if self.watch.is_watched(op.part) => {
                    if let Some(range) = op.range {
                        self.watch.publish(
                            op.part,
                            WatchEvent::RangeDeleted {
                                range: range.clone(),
                            },
                        );
                    }
                }
                Kind::DropPartition => self.watch.close_partition(op.part),
                _ => {}
            }
        }
        Ok(Written {
            seq: w.last_seq,
            merge_due,
        })
    }

    pub(crate) fn wait_durable(&self, seq: u64) -> Result<()> {
        self.commit
            .wait(seq, || {
                let w = self.writer.lock();
                let mut files: Vec<Arc<File>> = w.unsynced.iter().map(|u| u.1.clone()).collect();
                files.extend(w.file.clone());
                (files, w.last_seq)
            })
            .map_err(|why| Error::backend(NAME, format!("{why}; close and reopen the store")))
    }

    /// Makes everything written so far durable.
    fn sync_written(&self) -> Result<()> {
        let last = self.writer.lock().last_seq;
        if last == 0 || self.commit.synced() >= last {
            return Ok(());
        }
        self.wait_durable(last)
    }
}

fn periodic_sync(weak: Weak<Inner>, ms: u64) {
    loop {
        std::thread::sleep(Duration::from_millis(ms));
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let _ = inner.sync_written();
    }
}

/// Checks a record read for `entry` of `key`: header and full checksum, kind, sequence
/// number, key. Never lets wrong bytes through.
pub(crate) fn check_record(
    rec: &[u8],
    entry: &Entry,
    key: &[u8],
    file_id: u64,
) -> Result<RecordHeader> {
    let bad = |why: &str| {
        Error::corruption(format!(
            "data file {file_id:016x}.data, record at offset {}: {why}",
            entry.offset
        ))
    };
    let h = RecordHeader::decode(rec).map_err(|e| bad(&format!("{e:?}")))?;
    if !record_crc_ok(rec) {
        return Err(bad("record checksum mismatch"));
    }
    if h.kind != Kind::Put || h.seq != entry.seq || h.total_len() != rec.len() as u64 {
        return Err(bad("record does not match the keydir"));
    }
    if &rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.key_len as usize] != key {
        return Err(bad("record holds another key"));
    }
    Ok(h)
}

/// One positioned read of a record, checked, returning its value.
fn read_value(file: &File, e: &Entry, key: &[u8]) -> Result<Bytes> {
    let mut rec = vec![0u8; e.len as usize];
    if let Err(err) = file.read_exact_at(&mut rec, e.offset) {
        return Err(if err.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corruption(format!(
                "data file {:016x}.data ends inside the record at offset {}",
                e.file_id, e.offset
            ))
        } else {
            Error::io(crate::files::data_name(e.file_id), err)
        });
    }
    check_record(&rec, e, key, e.file_id)?;
    Ok(Bytes::from(rec).slice(RECORD_HEADER_LEN + key.len()..))
}

fn expiry_of(options: &PutOptions) -> u64 {
    options.ttl.map_or(0, |t| ttl::deadline_ms(t).max(1))
}

#[async_trait]
impl StorageBackend for FileBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        let name = partition.name().as_bytes();
        self.write(
            |st| {
                if st.parts.contains_key(partition.name()) {
                    return Ok(Vec::new());
                }
                Ok(vec![Op::new(partition, 0, Kind::CreatePartition, name)])
            },
            false,
        )
        .await
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        let name = partition.name().as_bytes();
        self.write(
            |st| {
                let pid = pid_of(st, partition)?;
                Ok(vec![Op::new(partition, pid, Kind::DropPartition, name)])
            },
            false,
        )
        .await
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        self.inner.check_open()?;
        Ok(self.inner.state.read().parts.contains_key(partition.name()))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.inner.check_open()?;
        let st = self.inner.state.read();
        st.parts.keys().map(Partition::parse).collect()
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.get_sync(partition, key)
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.inner.check_open()?;
        for key in keys {
            self.inner.caps.check_key(key)?;
        }
        // Checked even for an empty list.
        self.part(&self.inner.state.read(), partition)?;
        keys.iter().map(|k| self.get_sync(partition, k)).collect()
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.exists_sync(partition, key)
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
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.write_one(partition, Kind::Delete, key, b"", 0).await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        self.inner.check_open()?;
        self.inner.caps.check_scan_range(&range)?;
        let pid = self.part(&self.inner.state.read(), partition)?.id;
        let inner = self.inner.clone();
        let name = partition.name().to_owned();
        Ok(blocking_stream(move |emit| {
            scan_produce(&inner, &name, pid, &range, emit)
        }))
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
        self.inner.check_open()?;
        self.inner.caps.check_prefix(prefix)?;
        let _w = self.inner.writer.lock();
        self.part(&self.inner.state.read(), partition)?;
        Ok(self.inner.watch.subscribe(partition, prefix))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        self.inner.check_open()?;
        Ok(self.part(&self.inner.state.read(), partition)?.user_bytes)
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        self.inner.check_open()?;
        Ok(self
            .part(&self.inner.state.read(), partition)?
            .live_len(ttl::now_ms()))
    }

    async fn is_empty(&self, partition: &Partition) -> Result<bool> {
        self.inner.check_open()?;
        let st = self.inner.state.read();
        let now = ttl::now_ms();
        Ok(!self
            .part(&st, partition)?
            .keys
            .values()
            .any(|e| !e.expired(now)))
    }

    async fn compact(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        self.part(&self.inner.state.read(), partition)?;
        self.merge().await.map(|_| ())
    }

    async fn flush(&self) -> Result<()> {
        self.inner.check_open()?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.sync_written())
            .await
            .map_err(|e| Error::backend(NAME, e))?
    }

    async fn status(&self) -> Result<Status> {
        self.inner.check_open()?;
        let mut s = Status::new();
        {
            let st = self.inner.state.read();
            let now = ttl::now_ms();
            s.insert("live_bytes".into(), st.live_bytes.to_string());
            s.insert("dead_bytes".into(), st.dead_bytes().to_string());
            s.insert("total_bytes".into(), st.total_bytes.to_string());
            s.insert("file_count".into(), st.files.len().to_string());
            s.insert("partitions".into(), st.parts.len().to_string());
            let keys: u64 = st.parts.values().map(|p| p.live_len(now)).sum();
            s.insert("key_count".into(), keys.to_string());
        }
        {
            let w = self.inner.writer.lock();
            let active = w
                .file
                .as_ref()
                .map_or("none".into(), |_| crate::files::data_name(w.file_id));
            s.insert("active_file".into(), active);
            s.insert("next_seq".into(), w.next_seq.to_string());
        }
        s.insert("fsyncs".into(), self.inner.commit.syncs().to_string());
        s.insert(
            "merges".into(),
            self.inner.merges.load(Ordering::Relaxed).to_string(),
        );
        match &*self.inner.last_merge.lock() {
            Some(m) => {
                s.insert("last_merge_at_ms".into(), m.finished_at_ms.to_string());
                s.insert("last_merge_micros".into(), m.micros.to_string());
                s.insert("last_merge_bytes_in".into(), m.bytes_in.to_string());
                s.insert("last_merge_bytes_out".into(), m.bytes_out.to_string());
            }
            None => {
                s.insert("last_merge_at_ms".into(), "never".into());
            }
        }
        let r = &self.inner.report;
        s.insert("recovery_hints_loaded".into(), r.hints_loaded.to_string());
        s.insert("recovery_files_scanned".into(), r.files_scanned.to_string());
        s.insert(
            "recovery_truncated_tails".into(),
            r.truncated.len().to_string(),
        );
        s.insert(
            "recovery_dropped_ranges".into(),
            r.dropped.len().to_string(),
        );
        s.insert(
            "rotation_hints_written".into(),
            self.inner.seals.hints_written().to_string(),
        );
        s.insert("sync_policy".into(), format!("{:?}", self.inner.cfg.sync));
        Ok(s)
    }

    async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let inner = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || {
            // Wait for a hint being built, a running merge to stop, and in-flight
            // writes (lock order: hint lock before merge lock).
            let _h = inner.seals.hint_lock.lock();
            let _m = inner.merge_lock.lock();
            let (files, last) = {
                let w = inner.writer.lock();
                let mut files: Vec<Arc<File>> = w.unsynced.iter().map(|u| u.1.clone()).collect();
                files.extend(w.file.clone());
                (files, w.last_seq)
            };
            let synced = files.iter().try_for_each(|f| f.sync_data());
            if synced.is_ok() {
                inner.writer.lock().unsynced.clear();
                inner.commit.mark_synced(last);
                // Rotated files still without a hint get it now, so the next open
                // reads hints for every sealed file.
                inner.write_queued_hints(true);
            }
            inner.watch.close_all();
            {
                let mut st = inner.state.write();
                st.files.clear();
                st.parts.clear();
            }
            inner.lock_file.lock().take();
            synced
        })
        .await
        .map_err(|e| Error::backend(NAME, e))?;
        result.map_err(|e| Error::io(&self.inner.cfg.dir, e))
    }
}

/// Produces a scan's items a chunk at a time: each chunk is read from the keydir under
/// the read lock, then its values are read without it.
fn scan_produce(
    inner: &Inner,
    name: &str,
    pid: u32,
    range: &ScanRange,
    emit: &mut dyn FnMut(Result<(Bytes, Bytes)>) -> bool,
) {
    if range.is_empty() {
        return;
    }
    let (mut lo, mut hi) = range.bounds();
    let mut left = range.limit.unwrap_or(usize::MAX);
    loop {
        if inner.closed.load(Ordering::Acquire) {
            emit(Err(Error::Closed));
            return;
        }
        type Item = (Bytes, Option<(Entry, Option<Arc<File>>)>);
        let chunk: Vec<Item> = {
            let st = inner.state.read();
            let Some(p) = st.part_by_id(name, pid) else {
                return;
            };
            let now = ttl::now_ms();
            let pick = |(k, e): (&Bytes, &Entry)| -> Item {
                let live = (!e.expired(now)).then(|| (*e, st.files.get(&e.file_id).cloned()));
                (k.clone(), live)
            };
            let it = p.keys.range((lo.clone(), hi.clone()));
            if range.reverse {
                it.rev().take(SCAN_CHUNK).map(pick).collect()
            } else {
                it.take(SCAN_CHUNK).map(pick).collect()
            }
        };
        let Some((last, _)) = chunk.last() else {
            return;
        };
        if range.reverse {
            hi = Bound::Excluded(last.clone());
        } else {
            lo = Bound::Excluded(last.clone());
        }
        for (key, live) in chunk {
            let Some((e, file)) = live else { continue };
            let value = if range.keys_only {
                Bytes::new()
            } else {
                let Some(file) = file else {
                    emit(Err(Error::corruption(format!(
                        "data file {} is missing",
                        e.file_id
                    ))));
                    return;
                };
                match read_value(&file, &e, &key) {
                    Ok(v) => v,
                    Err(err) => {
                        emit(Err(err));
                        return;
                    }
                }
            };
            if !emit(Ok((key, value))) {
                return;
            }
            left -= 1;
            if left == 0 {
                return;
            }
        }
    }
}
