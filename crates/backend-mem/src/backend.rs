//! [`MemBackend`] and its [`StorageBackend`] implementation.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, EntryStream, KvStream, Operation,
    Partition, PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use backend_support::{cas_as_batch, cas_outcome, validate_conditional_batch};

use crate::error::{NAME, not_found};
use crate::scan::{Entries, Pairs, ScanStream, Shape};
use crate::store::{Inner, Part, PartState, Write};
use crate::sweeper;
use crate::{ENTRY_OVERHEAD, MemConfig};

/// The in-process backend: one ordered map per partition, nothing persisted.
///
/// Cheap reads take one partition's read lock; writes take its write lock; a batch
/// takes the write locks of every partition it touches (in name order) at once, so no
/// reader sees part of it. Dropping the handle (or [`close`](StorageBackend::close))
/// frees the data and stops the background sweeper.
#[derive(Debug)]
pub struct MemBackend {
    inner: Arc<Inner>,
}

impl MemBackend {
    /// Opens an empty store with `config`.
    ///
    /// `Error::InvalidConfig` when the configuration is unusable (zero sweep interval,
    /// budget or scan chunk; a `max_memory` no larger than one entry's overhead). Called
    /// inside a tokio runtime, starts the expired-entry sweeper on it.
    pub async fn open(config: MemConfig) -> Result<MemBackend> {
        config.validate()?;
        let caps = config.capabilities();
        let interval = config.sweep_interval;
        let inner = Arc::new(Inner::new(config, caps));
        sweeper::spawn(Arc::downgrade(&inner), interval);
        Ok(MemBackend { inner })
    }

    /// Runs one sweep now (what the background task does every tick) and returns how
    /// many expired entries it reclaimed. Bounded by `MemConfig::sweep_budget`.
    pub fn sweep_expired(&self) -> Result<usize> {
        self.inner.check_open()?;
        Ok(sweeper::sweep_once(&self.inner))
    }

    /// Store-wide accounted bytes: what `max_memory` is compared with.
    pub fn used_memory(&self) -> u64 {
        self.inner.used_bytes()
    }

    /// Applies one write under the partition's write lock, then enforces the cap.
    fn write_one(&self, partition: &Partition, write: impl FnOnce() -> Write) -> Result<()> {
        self.inner.with_part(partition, |part| {
            let mut st = write_lock(part)?;
            self.inner.apply(part, &mut st, write());
            Ok(())
        })?;
        self.inner.enforce_cap();
        Ok(())
    }

    /// `put_with` without the async wrapper (no second boxed future for `put`).
    fn put_now(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.inner.caps.check_value(value)?;
        self.inner.check_fits(key, value)?;
        self.write_one(partition, || Write::Put {
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
            expires: deadline(&options),
        })
    }

    /// The one write path of `batch`, `conditional_batch` and `compare_and_swap`.
    ///
    /// Validates everything first (arguments in order, then partitions), then takes the
    /// write locks of every partition named (in name order), evaluates the checks and
    /// applies the operations without releasing them: no write can come between, and
    /// no reader sees part of it.
    fn conditional_now(
        &self,
        checks: &[Check],
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        let inner = &*self.inner;
        inner.check_open()?;
        // Every partition named, in name order (the lock order).
        let mut touched: Vec<(Partition, Arc<Part>)> = Vec::new();
        {
            let parts = inner.parts.read();
            validate_conditional_batch(&inner.caps, NAME, checks, &operations, |p| {
                parts.contains_key(p)
            })?;
            for op in &operations {
                if let Operation::Put { key, value, .. } = op {
                    inner.check_fits(key, value)?;
                }
            }
            let named = checks
                .iter()
                .map(|c| &c.partition)
                .chain(operations.iter().map(Operation::partition));
            for p in named {
                if let Err(at) = touched.binary_search_by(|(name, _)| name.cmp(p)) {
                    touched.insert(at, (p.clone(), parts[p].clone()));
                }
            }
        }
        let index = |p: &Partition| {
            touched
                .binary_search_by(|(name, _)| name.cmp(p))
                .expect("every partition named is locked")
        };
        let mut guards = Vec::with_capacity(touched.len());
        for (_, part) in &touched {
            guards.push(write_lock(part)?);
        }
        for (i, check) in checks.iter().enumerate() {
            let current = live(&guards[index(&check.partition)], &check.key);
            if !check.holds(current.as_deref()) {
                return Ok(BatchOutcome::CheckFailed { index: i, current });
            }
        }
        let wrote = !operations.is_empty();
        for op in operations {
            let at = index(op.partition());
            let write = match op {
                Operation::Put {
                    key,
                    value,
                    options,
                    ..
                } => Write::Put {
                    // Copies, so a slice of a larger buffer does not pin it (and the
                    // accounting stays true).
                    key: Bytes::copy_from_slice(&key),
                    value: Bytes::copy_from_slice(&value),
                    expires: deadline(&options),
                },
                Operation::Delete { key, .. } => Write::Delete { key },
                Operation::DeleteRange { range, .. } => Write::DeleteRange { range },
                // Validation refused every kind this backend does not know.
                _ => continue,
            };
            inner.apply(&touched[at].1, &mut guards[at], write);
        }
        drop(guards);
        if wrote {
            inner.enforce_cap();
        }
        Ok(BatchOutcome::Applied)
    }
}

/// The write lock of a live partition; `PartitionNotFound` if it was dropped meanwhile.
fn write_lock(part: &Part) -> Result<parking_lot::RwLockWriteGuard<'_, PartState>> {
    let st = part.state.write();
    if st.dropped {
        return Err(not_found(&part.name));
    }
    Ok(st)
}

impl MemBackend {
    /// Checks the call (open handle, range bounds, live partition) and opens the scan.
    fn open_scan<S: Shape>(
        &self,
        partition: &Partition,
        range: &ScanRange,
    ) -> Result<ScanStream<S>> {
        self.inner.check_open()?;
        self.inner.caps.check_scan_range(range)?;
        let part = self.inner.part(partition)?;
        drop(read_lock(&part)?);
        Ok(ScanStream::new(self.inner.clone(), part, range))
    }
}

/// The read lock of a live partition; `PartitionNotFound` if it was dropped meanwhile.
fn read_lock(part: &Part) -> Result<parking_lot::RwLockReadGuard<'_, PartState>> {
    let st = part.state.read();
    if st.dropped {
        return Err(not_found(&part.name));
    }
    Ok(st)
}

/// The deadline of a write made now, `None` without a TTL (or one too far to represent).
fn deadline(options: &PutOptions) -> Option<Instant> {
    options.ttl.and_then(|ttl| Instant::now().checked_add(ttl))
}

/// The live value of `key` in a locked partition.
fn live(st: &PartState, key: &[u8]) -> Option<Bytes> {
    let entry = st.map.get(key)?;
    entry.is_live(&mut None).then(|| entry.value.clone())
}

#[async_trait]
impl StorageBackend for MemBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.caps
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        let mut parts = self.inner.parts.write();
        self.inner.check_open()?;
        parts
            .entry(partition.clone())
            .or_insert_with(|| Arc::new(Part::new(partition.clone())));
        Ok(())
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        let part = self
            .inner
            .parts
            .write()
            .remove(partition)
            .ok_or_else(|| not_found(partition))?;
        let mut st = part.state.write();
        self.inner.clear(&mut st);
        self.inner.hub.close_partition(partition);
        Ok(())
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        self.inner.check_open()?;
        Ok(self.inner.parts.read().contains_key(partition))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.inner.check_open()?;
        let mut names: Vec<_> = self.inner.parts.read().keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.inner
            .with_part(partition, |part| Ok(live(&*read_lock(part)?, key)))
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.inner.check_open()?;
        for key in keys {
            self.inner.caps.check_key(key)?;
        }
        self.inner.with_part(partition, |part| {
            let st = read_lock(part)?;
            Ok(keys.iter().map(|key| live(&st, key)).collect())
        })
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.inner.with_part(partition, |part| {
            let st = read_lock(part)?;
            Ok(st.map.get(key).is_some_and(|e| e.is_live(&mut None)))
        })
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_now(partition, key, value, PutOptions::default())
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.put_now(partition, key, value, options)
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.inner.check_open()?;
        self.inner.caps.check_key(key)?;
        self.write_one(partition, || Write::Delete {
            key: Bytes::copy_from_slice(key),
        })
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        Ok(Box::pin(self.open_scan::<Pairs>(partition, &range)?))
    }

    /// Native: each entry's monotonic deadline, read under the same lock as its value,
    /// converted to the wall clock through one pair of clock readings per process.
    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        Ok(Box::pin(self.open_scan::<Entries>(partition, &range)?))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        self.conditional_now(&[], operations).map(|_| ())
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        self.conditional_now(&checks, operations)
    }

    async fn compare_and_swap(
        &self,
        partition: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let (check, write) = cas_as_batch(partition, key, expected, new);
        Ok(cas_outcome(self.conditional_now(&[check], vec![write])?))
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        self.inner.check_open()?;
        self.inner.caps.check_prefix(prefix)?;
        let part = self.inner.part(partition)?;
        // Subscribing under the read lock orders it against writes: any write that
        // commits after this returns is published to the new subscriber.
        let _st = read_lock(&part)?;
        part.watched.store(true, Ordering::Relaxed);
        Ok(self.inner.hub.subscribe(partition, prefix))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        let part = self.inner.part(partition)?;
        let st = read_lock(&part)?;
        Ok(st.bytes)
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        let part = self.inner.part(partition)?;
        let st = read_lock(&part)?;
        Ok((st.map.len() - st.expired_count(Instant::now())) as u64)
    }

    async fn is_empty(&self, partition: &Partition) -> Result<bool> {
        Ok(self.len(partition).await? == 0)
    }

    async fn flush(&self) -> Result<()> {
        self.inner.check_open()
    }

    async fn status(&self) -> Result<Status> {
        self.inner.check_open()?;
        let inner = &*self.inner;
        let parts: Vec<_> = inner.parts.read().values().cloned().collect();
        let now = Instant::now();
        let (mut entries, mut live_keys, mut pending, mut bytes) = (0usize, 0usize, 0usize, 0u64);
        for part in &parts {
            let st = part.state.read();
            bytes += st.bytes;
            let expired = st.expired_count(now);
            entries += st.map.len();
            live_keys += st.map.len() - expired;
            pending += st.expiry.len();
        }
        let figures = [
            ("partitions", parts.len().to_string()),
            ("entries", entries.to_string()),
            ("live_keys", live_keys.to_string()),
            ("entries_with_ttl", pending.to_string()),
            ("bytes", bytes.to_string()),
            ("entry_overhead_bytes", ENTRY_OVERHEAD.to_string()),
            (
                "max_memory",
                inner
                    .config
                    .max_memory
                    .map_or_else(|| "none".to_owned(), |cap| cap.to_string()),
            ),
            (
                "evictions",
                inner.evictions.load(Ordering::Relaxed).to_string(),
            ),
            (
                "expirations",
                inner.expirations.load(Ordering::Relaxed).to_string(),
            ),
            ("sweeps", inner.sweeps.load(Ordering::Relaxed).to_string()),
        ];
        Ok(figures
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect())
    }

    async fn close(&self) -> Result<()> {
        let inner = &*self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let parts: Vec<_> = inner.parts.write().drain().map(|(_, part)| part).collect();
        for part in parts {
            let mut st = part.state.write();
            inner.clear(&mut st);
        }
        inner.hub.close_all();
        Ok(())
    }
}
