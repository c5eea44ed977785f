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
//!
//! Inside, `state` is the model (partitions, entries, watch channels, atomic apply);
//! `stream` reads it lazily for scans and watches; this module validates each call in
//! the contract's order and drives the model.

mod state;
mod stream;

use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, Check, EntryStream, KvStream, Operation, Partition,
    PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use futures_util::StreamExt;

use self::state::{Inner, State, not_found};
use self::stream::{scan_stream, watch_stream};
use crate::Harness;

/// The reference's value limit (smaller than the default to keep the battery quick).
const MAX_VALUE_LEN: usize = 1 << 20;
const NAME: &str = "reference";

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

impl ReferenceBackend {
    /// An empty backend.
    pub fn new() -> Self {
        ReferenceBackend {
            inner: Arc::new(Inner::new()),
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
        self.inner.create(partition)
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
        Ok(scan_stream(self.inner.clone(), partition, part_id, range))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let mut st = self.validated(&[], &operations)?;
        st.apply_all(&operations, Instant::now());
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
        st.apply_all(&operations, now);
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
        // Ends every watch stream; the data goes with the handle (not persistent). A
        // second close is a no-op.
        self.inner.close();
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
