//! A small, obviously correct in-memory backend: the battery's yardstick.
//!
//! [`ReferenceBackend`] keeps every partition as a `BTreeMap` behind one mutex, so each
//! operation (batches, conditional batches, range deletes and CAS included) is atomic by
//! construction. It offers every capability except `snapshot_scan`,
//! `cross_process_watch` and `persistent`, and answers every decided edge of
//! `docs/contract.md` (error order, reads that validate, deletes of absent keys that
//! publish nothing, watch and scan streams that end when their partition is dropped or
//! the handle closed). It carries no fault switches: the deliberately broken backends
//! are [`crate::mutants::Faulty`], a decorator that wraps any backend, this one
//! included.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use backend_api::{
    BatchOutcome, Bytes, Capabilities, Check, EntryStream, Error, KeyRange, KvStream, Operation,
    Partition, PutOptions, Result, ScanRange, Status, StorageBackend, WatchEvent, WatchStream,
    async_trait,
};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::Harness;

/// How many events a watcher may fall behind before it gets `Lagged`.
const WATCH_CAPACITY: usize = 1024;
/// Pairs a scan takes per lock.
const SCAN_CHUNK: usize = 64;
/// The reference's value limit (smaller than the default to keep the battery quick).
const MAX_VALUE_LEN: usize = 1 << 20;
const NAME: &str = "reference";

#[derive(Clone)]
struct Entry {
    value: Bytes,
    /// `None`: never expires (no TTL, or one too large to represent).
    deadline: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.deadline.is_none_or(|d| d > now)
    }
}

type Map = BTreeMap<Bytes, Entry>;

struct Part {
    /// Unique per creation, so a scan never crosses into a re-created partition.
    id: u64,
    map: Map,
    watch: broadcast::Sender<WatchEvent>,
}

impl Part {
    fn live(&self, key: &[u8], now: Instant) -> Option<Bytes> {
        self.map
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone())
    }

    /// Publishes `event` to the partition's watchers (never waits).
    fn publish(&self, event: WatchEvent) {
        let _ = self.watch.send(event);
    }

    /// Applies one validated write, publishing what it changed.
    fn apply(&mut self, op: &Operation, now: Instant) {
        match op {
            Operation::Put {
                key,
                value,
                options,
                ..
            } => {
                // A TTL too large for `Instant` never expires in practice.
                let deadline = options.ttl.and_then(|t| now.checked_add(t));
                self.map.insert(
                    key.clone(),
                    Entry {
                        value: value.clone(),
                        deadline,
                    },
                );
                self.publish(WatchEvent::Put {
                    key: key.clone(),
                    value: value.clone(),
                });
            }
            Operation::Delete { key, .. } => {
                let was_live = self.map.remove(key).is_some_and(|e| e.live(now));
                if was_live {
                    self.publish(WatchEvent::Delete { key: key.clone() });
                }
            }
            Operation::DeleteRange { range, .. } => {
                if range.is_empty() {
                    return;
                }
                let removed = remove_range(&mut self.map, range);
                if removed.values().any(|e| e.live(now)) {
                    self.publish(WatchEvent::RangeDeleted {
                        range: range.clone(),
                    });
                }
            }
            // A kind this reference does not know yet: validation already refused it.
            _ => {}
        }
    }
}

/// Cuts the keys of `range` (not empty) out of `map` and returns them.
fn remove_range(map: &mut Map, range: &KeyRange) -> Map {
    let mut middle = match &range.start {
        Some(start) => map.split_off(start),
        None => std::mem::take(map),
    };
    if let Some(end) = &range.end {
        let mut tail = middle.split_off(end);
        map.append(&mut tail);
    }
    middle
}

#[derive(Default)]
struct State {
    parts: BTreeMap<Partition, Part>,
}

impl State {
    fn part(&self, p: &Partition) -> Result<&Part> {
        self.parts.get(p).ok_or_else(|| not_found(p))
    }

    /// `PartitionNotFound` for the first partition named that does not exist.
    fn require<'a>(&self, mut named: impl Iterator<Item = &'a Partition>) -> Result<()> {
        named.try_for_each(|p| self.part(p).map(drop))
    }
}

struct Inner {
    state: Mutex<State>,
    closed: AtomicBool,
    next_id: AtomicU64,
}

/// The reference backend. See the [module docs](self).
#[derive(Clone)]
pub struct ReferenceBackend {
    inner: Arc<Inner>,
}

impl Default for ReferenceBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ReferenceBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceBackend").finish_non_exhaustive()
    }
}

fn not_found(p: &Partition) -> Error {
    Error::PartitionNotFound(p.name().to_owned())
}

fn caps() -> Capabilities {
    Capabilities {
        ordered_scan: true,
        reverse_scan: true,
        atomic_batch: true,
        cross_partition_batch: true,
        compare_and_swap: true,
        conditional_batch: true,
        range_delete: true,
        watch: true,
        ttl: true,
        compact: true,
        exact_len: true,
        max_value_len: MAX_VALUE_LEN,
        ..Capabilities::default()
    }
}

impl Inner {
    /// `Closed` once closed; checked before any argument.
    fn open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The state, or `Closed` (a close may have happened since [`Inner::open`]).
    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.open()?;
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ReferenceBackend {
    /// An empty backend.
    pub fn new() -> Self {
        ReferenceBackend {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                closed: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// Validates a (conditional) batch in the contract's order: closed, every check's
    /// key, every operation's arguments, then every partition named. Returns the lock.
    fn validated(
        &self,
        checks: &[Check],
        operations: &[Operation],
    ) -> Result<MutexGuard<'_, State>> {
        self.inner.open()?;
        let caps = caps();
        for check in checks {
            caps.check_check(check)?;
        }
        for op in operations {
            caps.check_operation(op, NAME)?;
        }
        let st = self.inner.lock()?;
        st.require(
            checks
                .iter()
                .map(|c| &c.partition)
                .chain(operations.iter().map(Operation::partition)),
        )?;
        Ok(st)
    }

    /// Applies validated operations in order.
    fn apply_all(st: &mut State, operations: &[Operation], now: Instant) {
        for op in operations {
            if let Some(part) = st.parts.get_mut(op.partition()) {
                part.apply(op, now);
            }
        }
    }
}

/// A lazy scan: refills a small buffer under the lock, resuming after the last key.
struct Cursor {
    inner: Arc<Inner>,
    partition: Partition,
    part_id: u64,
    range: ScanRange,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    left: usize,
    buf: VecDeque<backend_api::Entry>,
    exhausted: bool,
}

fn valid_range(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
        _ => true,
    }
}

impl Cursor {
    fn fill(&mut self) -> Result<()> {
        let st = self.inner.lock()?;
        let part = st
            .parts
            .get(&self.partition)
            .filter(|p| p.id == self.part_id)
            .ok_or_else(|| not_found(&self.partition))?;
        if !valid_range(&self.lo, &self.hi) {
            self.exhausted = true;
            return Ok(());
        }
        let now = Instant::now();
        let wall = SystemTime::now();
        let range = part.map.range((self.lo.clone(), self.hi.clone()));
        let live = |(k, e): (&Bytes, &Entry)| {
            let expires_at = e
                .deadline
                .and_then(|d| wall.checked_add(d.saturating_duration_since(now)));
            e.live(now)
                .then(|| backend_api::Entry::new(k.clone(), e.value.clone(), expires_at))
        };
        let chunk: Vec<backend_api::Entry> = if self.range.reverse {
            range.rev().filter_map(live).take(SCAN_CHUNK).collect()
        } else {
            range.filter_map(live).take(SCAN_CHUNK).collect()
        };
        drop(st);
        if chunk.len() < SCAN_CHUNK {
            self.exhausted = true;
        }
        if let Some(last) = chunk.last() {
            if self.range.reverse {
                self.hi = Bound::Excluded(last.key.clone());
            } else {
                self.lo = Bound::Excluded(last.key.clone());
            }
        }
        let keys_only = self.range.keys_only;
        self.buf.extend(chunk.into_iter().map(|mut entry| {
            if keys_only {
                entry.value = Bytes::new();
            }
            entry
        }));
        Ok(())
    }
}

/// The cursor's entries, deadlines on the wall clock.
fn scan_stream(cursor: Cursor) -> EntryStream {
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.left == 0 {
                return None;
            }
            if let Some(item) = c.buf.pop_front() {
                c.left -= 1;
                return Some((Ok(item), c));
            }
            if c.exhausted {
                return None;
            }
            if let Err(e) = c.fill() {
                c.exhausted = true;
                c.left = 0;
                return Some((Err(e), c));
            }
        }
    })
    .boxed()
}

fn watch_stream(receiver: broadcast::Receiver<WatchEvent>, prefix: Bytes) -> WatchStream {
    futures_util::stream::unfold(receiver, move |mut receiver| {
        let prefix = prefix.clone();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(e) => {
                        let wanted = match &e {
                            WatchEvent::Put { key, .. } | WatchEvent::Delete { key } => {
                                key.starts_with(&prefix)
                            }
                            WatchEvent::RangeDeleted { range } => range.overlaps_prefix(&prefix),
                            _ => true,
                        };
                        if wanted {
                            return Some((Ok(e), receiver));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Some((Ok(WatchEvent::Lagged(n)), receiver));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
    .boxed()
}

#[async_trait]
impl StorageBackend for ReferenceBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        caps()
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        let mut st = self.inner.lock()?;
        if !st.parts.contains_key(partition) {
            let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
            st.parts.insert(
                partition.clone(),
                Part {
                    id,
                    map: Map::new(),
                    watch: broadcast::channel(WATCH_CAPACITY).0,
                },
            );
        }
        Ok(())
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        // Dropping the part drops its sender: every watch stream on it ends.
        let mut st = self.inner.lock()?;
        st.parts
            .remove(partition)
            .map(drop)
            .ok_or_else(|| not_found(partition))
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        Ok(self.inner.lock()?.parts.contains_key(partition))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        Ok(self.inner.lock()?.parts.keys().cloned().collect())
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.open()?;
        caps().check_key(key)?;
        let st = self.inner.lock()?;
        Ok(st.part(partition)?.live(key, Instant::now()))
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.inner.open()?;
        let caps = caps();
        keys.iter().try_for_each(|k| caps.check_key(k))?;
        let st = self.inner.lock()?;
        let part = st.part(partition)?;
        let now = Instant::now();
        Ok(keys.iter().map(|k| part.live(k, now)).collect())
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        Ok(self.get(partition, key).await?.is_some())
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_with(partition, key, value, PutOptions::default())
            .await
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        let op = Operation::put_with(
            partition,
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(value),
            options,
        );
        self.batch(vec![op]).await
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.batch(vec![Operation::delete(
            partition,
            Bytes::copy_from_slice(key),
        )])
        .await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        let entries = self.scan_entries(partition, range).await?;
        Ok(entries
            .map(|item| item.map(backend_api::Entry::into_pair))
            .boxed())
    }

    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.inner.open()?;
        caps().check_scan_range(&range)?;
        let part_id = self.inner.lock()?.part(partition)?.id;
        let (lo, hi) = range.bounds();
        Ok(scan_stream(Cursor {
            inner: self.inner.clone(),
            partition: partition.clone(),
            part_id,
            lo,
            hi,
            left: range.limit.unwrap_or(usize::MAX),
            buf: VecDeque::new(),
            exhausted: range.is_empty(),
            range,
        }))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let mut st = self.validated(&[], &operations)?;
        Self::apply_all(&mut st, &operations, Instant::now());
        Ok(())
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        let mut st = self.validated(&checks, &operations)?;
        let now = Instant::now();
        for (index, check) in checks.iter().enumerate() {
            let current = st.part(&check.partition)?.live(&check.key, now);
            if !check.holds(current.as_deref()) {
                return Ok(BatchOutcome::CheckFailed { index, current });
            }
        }
        Self::apply_all(&mut st, &operations, now);
        Ok(BatchOutcome::Applied)
    }

    // compare_and_swap: the trait's default, the one-key conditional batch (its
    // validation order is conditional_batch's: closed, key, value, partition).

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        self.inner.open()?;
        caps().check_prefix(prefix)?;
        let st = self.inner.lock()?;
        let receiver = st.part(partition)?.watch.subscribe();
        Ok(watch_stream(receiver, Bytes::copy_from_slice(prefix)))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        let st = self.inner.lock()?;
        let now = Instant::now();
        Ok(st
            .part(partition)?
            .map
            .iter()
            .filter(|(_, e)| e.live(now))
            .map(|(k, e)| (k.len() + e.value.len()) as u64)
            .sum())
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        let st = self.inner.lock()?;
        let now = Instant::now();
        Ok(st
            .part(partition)?
            .map
            .values()
            .filter(|e| e.live(now))
            .count() as u64)
    }

    async fn is_empty(&self, partition: &Partition) -> Result<bool> {
        Ok(self.len(partition).await? == 0)
    }

    async fn compact(&self, partition: &Partition) -> Result<()> {
        let mut st = self.inner.lock()?;
        let now = Instant::now();
        let part = st
            .parts
            .get_mut(partition)
            .ok_or_else(|| not_found(partition))?;
        part.map.retain(|_, e| e.live(now));
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        self.inner.lock().map(drop)
    }

    async fn status(&self) -> Result<Status> {
        let st = self.inner.lock()?;
        let keys: usize = st.parts.values().map(|p| p.map.len()).sum();
        Ok([
            ("partitions".to_owned(), st.parts.len().to_string()),
            ("keys".to_owned(), keys.to_string()),
        ]
        .into_iter()
        .collect())
    }

    async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Ends every watch stream; the data goes with the handle (not persistent).
        let mut st = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        *st = State::default();
        Ok(())
    }
}

/// A [`Harness`] opening a new [`ReferenceBackend`] for every store (it is not
/// persistent, so reopening gives an empty one).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReferenceHarness;

#[async_trait]
impl Harness for ReferenceHarness {
    type Store = ();

    async fn create(&self) {}

    async fn open(&self, _store: &()) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(ReferenceBackend::new()))
    }
}
