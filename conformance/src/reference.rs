//! A small, obviously correct in-memory backend: the battery's yardstick.
//!
//! [`ReferenceBackend`] keeps every partition as a `BTreeMap` behind one mutex, so each
//! operation (batches and CAS included) is atomic by construction. It offers ordered and
//! reverse scans, atomic batches, CAS, watch (tokio broadcast, lag signalled), TTL and
//! compaction (which reclaims expired entries). It is not persistent. It exists to prove
//! the battery can pass; the mutants in [`crate::mutants`] are copies of it with one
//! fault switched on, to prove the battery can fail.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use backend_api::{
    Bytes, Capabilities, CasOutcome, Error, KvStream, Operation, Partition, PutOptions, Result,
    ScanRange, Status, StorageBackend, WatchEvent, WatchStream, async_trait,
};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::Harness;
use crate::mutants::Mutant;

/// How many events a watcher may fall behind before it gets `Lagged`.
const WATCH_CAPACITY: usize = 1024;
/// Pairs a scan takes per lock.
const SCAN_CHUNK: usize = 64;
/// The reference's value limit (smaller than the default to keep the battery quick).
const MAX_VALUE_LEN: usize = 1 << 20;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    deadline: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.deadline.is_none_or(|d| d > now)
    }
}

type Map = BTreeMap<Bytes, Entry>;

struct Part {
    map: Map,
    watch: broadcast::Sender<WatchEvent>,
}

#[derive(Default)]
struct State {
    parts: BTreeMap<Partition, Part>,
    /// Where every partition's data goes under [`Mutant::PartitionsLeak`].
    shared: Map,
}

struct Inner {
    state: Mutex<State>,
    closed: AtomicBool,
    fault: Option<Mutant>,
    events: AtomicU64,
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

fn not_found(p: &Partition) -> Error {
    Error::PartitionNotFound(p.name().to_owned())
}

impl ReferenceBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::build(None)
    }

    pub(crate) fn build(fault: Option<Mutant>) -> Self {
        ReferenceBackend {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                closed: AtomicBool::new(false),
                fault,
                events: AtomicU64::new(0),
            }),
        }
    }

    fn has(&self, m: Mutant) -> bool {
        self.inner.fault == Some(m)
    }
}

impl Inner {
    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn map<'a>(&self, st: &'a State, p: &Partition) -> Result<&'a Map> {
        let part = st.parts.get(p).ok_or_else(|| not_found(p))?;
        Ok(if self.fault == Some(Mutant::PartitionsLeak) {
            &st.shared
        } else {
            &part.map
        })
    }

    /// Applies one validated write and publishes it.
    fn apply(&self, st: &mut State, op: &Operation) -> Result<()> {
        let leak = self.fault == Some(Mutant::PartitionsLeak);
        let State { parts, shared } = st;
        let part = parts
            .get_mut(op.partition())
            .ok_or_else(|| not_found(op.partition()))?;
        let map = if leak { shared } else { &mut part.map };
        let event = match op {
            Operation::Put {
                key,
                value,
                options,
                ..
            } => {
                let ttl = options
                    .ttl
                    .filter(|_| self.fault != Some(Mutant::TtlIgnored));
                let deadline = ttl.map(|t| Instant::now() + t);
                map.insert(
                    key.clone(),
                    Entry {
                        value: value.clone(),
                        deadline,
                    },
                );
                WatchEvent::Put {
                    key: key.clone(),
                    value: value.clone(),
                }
            }
            Operation::Delete { key, .. } => {
                map.remove(key);
                WatchEvent::Delete { key: key.clone() }
            }
            _ => return Err(Error::unsupported("reference", "range_delete")),
        };
        let n = self.events.fetch_add(1, Ordering::Relaxed);
        if !(self.fault == Some(Mutant::WatchDropsEvents) && n % 3 == 2) {
            let _ = part.watch.send(event);
        }
        Ok(())
    }
}

fn valid_range(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a < b || (a == b && matches!((lo, hi), (Bound::Included(_), Bound::Included(_))))
        }
        _ => true,
    }
}

/// A lazy scan: refills a small buffer under the lock, resuming after the last key.
struct Cursor {
    inner: Arc<Inner>,
    partition: Partition,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    reverse: bool,
    keys_only: bool,
    left: usize,
    buf: VecDeque<(Bytes, Bytes)>,
    exhausted: bool,
}

impl Cursor {
    fn fill(&mut self) -> Result<()> {
        let st = self.inner.lock()?;
        let map = self.inner.map(&st, &self.partition)?;
        if !valid_range(&self.lo, &self.hi) {
            self.exhausted = true;
            return Ok(());
        }
        let now = Instant::now();
        let range = map.range((self.lo.clone(), self.hi.clone()));
        let live = |(k, e): (&Bytes, &Entry)| e.live(now).then(|| (k.clone(), e.value.clone()));
        let mut chunk: Vec<(Bytes, Bytes)> = if self.reverse {
            range.rev().filter_map(live).take(SCAN_CHUNK).collect()
        } else {
            range.filter_map(live).take(SCAN_CHUNK).collect()
        };
        drop(st);
        if chunk.len() < SCAN_CHUNK {
            self.exhausted = true;
        }
        if let Some((last, _)) = chunk.last() {
            if self.reverse {
                self.hi = Bound::Excluded(last.clone());
            } else {
                self.lo = Bound::Excluded(last.clone());
            }
        }
        if self.reverse && self.inner.fault == Some(Mutant::ReverseScanUnordered) {
            for pair in chunk.chunks_mut(2) {
                pair.reverse();
            }
        }
        for (k, v) in chunk {
            self.buf
                .push_back((k, if self.keys_only { Bytes::new() } else { v }));
        }
        Ok(())
    }
}

fn scan_stream(cursor: Cursor) -> KvStream {
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
        "reference"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            atomic_batch: true,
            compare_and_swap: true,
            watch: true,
            ttl: true,
            compact: true,
            exact_len: true,
            max_value_len: MAX_VALUE_LEN,
            ..Capabilities::default()
        }
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        let mut st = self.inner.lock()?;
        st.parts.entry(partition.clone()).or_insert_with(|| Part {
            map: Map::new(),
            watch: broadcast::channel(WATCH_CAPACITY).0,
        });
        Ok(())
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
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
        let st = self.inner.lock()?;
        let map = self.inner.map(&st, partition)?;
        let now = Instant::now();
        Ok(map
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone()))
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
        self.capabilities().check_operation(&op, self.name())?;
        let mut st = self.inner.lock()?;
        self.inner.apply(&mut st, &op)
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.capabilities().check_key(key)?;
        let mut st = self.inner.lock()?;
        if self.has(Mutant::DeleteMissingErrors) {
            let now = Instant::now();
            if !self
                .inner
                .map(&st, partition)?
                .get(key)
                .is_some_and(|e| e.live(now))
            {
                return Err(Error::backend(self.name(), "no such key"));
            }
        }
        self.inner.apply(
            &mut st,
            &Operation::delete(partition, Bytes::copy_from_slice(key)),
        )
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        {
            let st = self.inner.lock()?;
            self.inner.map(&st, partition)?;
        }
        let (lo, mut hi) = range.bounds();
        if let (true, Some(end), Bound::Excluded(h)) =
            (self.has(Mutant::ScanIgnoresExclusiveEnd), &range.end, &hi)
            && end == h
        {
            hi = Bound::Included(end.clone());
        }
        Ok(scan_stream(Cursor {
            inner: self.inner.clone(),
            partition: partition.clone(),
            lo,
            hi,
            reverse: range.reverse,
            keys_only: range.keys_only,
            left: range.limit.unwrap_or(usize::MAX),
            buf: VecDeque::new(),
            exhausted: range.is_empty(),
        }))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let caps = self.capabilities();
        if self.has(Mutant::BatchOneAtATime) {
            for op in &operations {
                {
                    caps.check_operation(op, self.name())?;
                    let mut st = self.inner.lock()?;
                    self.inner.apply(&mut st, op)?;
                }
                tokio::task::yield_now().await;
            }
            return Ok(());
        }
        let mut st = self.inner.lock()?;
        for op in &operations {
            caps.check_operation(op, self.name())?;
            if !st.parts.contains_key(op.partition()) {
                return Err(not_found(op.partition()));
            }
        }
        for op in &operations {
            self.inner.apply(&mut st, op)?;
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
        let caps = self.capabilities();
        caps.check_key(key)?;
        if let Some(v) = new {
            caps.check_value(v)?;
        }
        let key = Bytes::copy_from_slice(key);
        let op = match new {
            Some(v) => Operation::put(partition, key.clone(), Bytes::copy_from_slice(v)),
            None => Operation::delete(partition, key.clone()),
        };
        if self.has(Mutant::CasGetThenPut) {
            let current = self.get(partition, &key).await?;
            if current.as_deref() != expected {
                return Ok(CasOutcome::Mismatch { current });
            }
            tokio::task::yield_now().await;
            let mut st = self.inner.lock()?;
            self.inner.apply(&mut st, &op)?;
            return Ok(CasOutcome::Swapped);
        }
        let mut st = self.inner.lock()?;
        let now = Instant::now();
        let current = self
            .inner
            .map(&st, partition)?
            .get(&key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone());
        if current.as_deref() != expected {
            return Ok(CasOutcome::Mismatch { current });
        }
        self.inner.apply(&mut st, &op)?;
        Ok(CasOutcome::Swapped)
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        let st = self.inner.lock()?;
        let part = st
            .parts
            .get(partition)
            .ok_or_else(|| not_found(partition))?;
        Ok(watch_stream(
            part.watch.subscribe(),
            Bytes::copy_from_slice(prefix),
        ))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        let st = self.inner.lock()?;
        let now = Instant::now();
        let map = self.inner.map(&st, partition)?;
        Ok(map
            .iter()
            .filter(|(_, e)| e.live(now))
            .map(|(k, e)| (k.len() + e.value.len()) as u64)
            .sum())
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        let st = self.inner.lock()?;
        let now = Instant::now();
        Ok(self
            .inner
            .map(&st, partition)?
            .values()
            .filter(|e| e.live(now))
            .count() as u64)
    }

    async fn compact(&self, partition: &Partition) -> Result<()> {
        let mut st = self.inner.lock()?;
        let now = Instant::now();
        let leak = self.has(Mutant::PartitionsLeak);
        let State { parts, shared } = &mut *st;
        let part = parts
            .get_mut(partition)
            .ok_or_else(|| not_found(partition))?;
        let map = if leak { shared } else { &mut part.map };
        map.retain(|_, e| e.live(now));
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
