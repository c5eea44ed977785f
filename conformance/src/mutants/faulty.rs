//! [`Faulty`]: a decorator that wraps any backend with one deliberate fault.
//!
//! Every fault is made from outside, by altering the calls it forwards or the streams
//! it hands back, so it works around the reference backend and around a real one alike.
//! Every trait method is forwarded explicitly (no default body answers in its place).

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, EntryStream, Error, KvStream, Operation,
    Partition, PutOptions, Result, ScanRange, Status, StorageBackend, WatchEvent, WatchStream,
    async_trait,
};
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;

use super::Fault;

/// How much later than asked [`Fault::TtlExpiresLate`] lets a key expire.
const LATE: Duration = Duration::from_millis(1500);

/// A backend with one deliberate fault, wrapped around `inner`. See [`Fault`] for what
/// each one breaks.
pub struct Faulty {
    inner: Arc<dyn StorageBackend>,
    fault: Fault,
    /// False when the inner backend lacks what the fault breaks: then it forwards
    /// unchanged (a fault must not emulate an operation the backend does not offer).
    active: bool,
    /// Where every partition's data goes under [`Fault::PartitionsLeak`].
    shared: Partition,
    /// Events of our own, merged into the watch streams we hand out.
    injected: Mutex<HashMap<Partition, broadcast::Sender<WatchEvent>>>,
    /// Deadlines of keys written with a TTL ([`Fault::BatchPutKeepsTtl`]).
    ttls: Mutex<HashMap<(Partition, Bytes), Instant>>,
}

impl std::fmt::Debug for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty")
            .field("inner", &self.inner.name())
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

impl Faulty {
    /// Wraps `inner` with `fault`.
    pub fn wrap(inner: Arc<dyn StorageBackend>, fault: Fault) -> Self {
        let active = fault.applies_to(&inner.capabilities());
        Faulty {
            inner,
            fault,
            active,
            shared: Partition::new("faulty_shared_data").expect("a valid name"),
            injected: Mutex::new(HashMap::new()),
            ttls: Mutex::new(HashMap::new()),
        }
    }

    /// The fault this wrapper carries.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    fn is(&self, fault: Fault) -> bool {
        self.active && self.fault == fault
    }

    /// The fault, if active.
    fn active(&self) -> Option<Fault> {
        self.active.then_some(self.fault)
    }

    /// The partition that really holds `p`'s data.
    async fn data(&self, p: &Partition) -> Result<Partition> {
        if !self.is(Fault::PartitionsLeak) {
            return Ok(p.clone());
        }
        if !self.inner.partition_exists(p).await? {
            return Err(Error::PartitionNotFound(p.name().to_owned()));
        }
        Ok(self.shared.clone())
    }

    fn invalid_key(&self, key: &[u8]) -> bool {
        self.is(Fault::InvalidKeyReadsNone) && self.inner.capabilities().check_key(key).is_err()
    }

    fn inject(&self, p: &Partition, event: WatchEvent) {
        let injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = injected.get(p) {
            let _ = sender.send(event);
        }
    }

    fn remember_ttl(&self, p: &Partition, key: &[u8], options: &PutOptions) {
        if let Some(deadline) = options.ttl.and_then(|t| Instant::now().checked_add(t)) {
            let mut ttls = self.ttls.lock().unwrap_or_else(|e| e.into_inner());
            ttls.insert((p.clone(), Bytes::copy_from_slice(key)), deadline);
        }
    }

    fn put_options(&self, options: PutOptions) -> PutOptions {
        match (self.active(), options.ttl) {
            (Some(Fault::TtlIgnored), Some(_)) => PutOptions::default(),
            (Some(Fault::TtlExpiresLate), Some(ttl)) => {
                PutOptions::with_ttl(ttl.saturating_add(LATE))
            }
            _ => options,
        }
    }

    /// The operations as this fault alters them, partitions rerouted.
    async fn alter(&self, operations: Vec<Operation>) -> Result<Vec<Operation>> {
        if self.is(Fault::PartitionBeforeKey) {
            for op in &operations {
                if !self.inner.partition_exists(op.partition()).await? {
                    return Err(Error::PartitionNotFound(op.partition().name().to_owned()));
                }
            }
        }
        let mut out = Vec::with_capacity(operations.len());
        for op in operations {
            let target = self.data(op.partition()).await?;
            out.push(match op {
                Operation::Put {
                    partition,
                    key,
                    value,
                    options,
                } => {
                    let mut options = self.put_options(options);
                    if self.is(Fault::BatchPutKeepsTtl) {
                        let ttls = self.ttls.lock().unwrap_or_else(|e| e.into_inner());
                        if let (None, Some(deadline)) =
                            (options.ttl, ttls.get(&(partition.clone(), key.clone())))
                        {
                            options = PutOptions::with_ttl(
                                deadline.saturating_duration_since(Instant::now()),
                            );
                        }
                    }
                    Operation::put_with(&target, key, value, options)
                }
                Operation::Delete { key, .. } => Operation::delete(&target, key),
                Operation::DeleteRange { partition, range } => {
                    let mut range = range;
                    if self.is(Fault::RangeDeleteKeepsLast) && !range.is_empty() {
                        let mut scan = ScanRange::all().keys_only().limit(1).reverse();
                        scan.start = range.start.clone();
                        scan.end = range.end.clone();
                        let mut last = self.inner.scan(&partition, scan).await?;
                        if let Some(Ok((key, _))) = last.next().await {
                            range.end = Some(key);
                        }
                    }
                    Operation::delete_range(&target, range)
                }
                other => other,
            });
        }
        Ok(out)
    }

    /// The checks with their partitions rerouted.
    async fn alter_checks(&self, checks: Vec<Check>) -> Result<Vec<Check>> {
        if self.is(Fault::PartitionBeforeKey) {
            for c in &checks {
                if !self.inner.partition_exists(&c.partition).await? {
                    return Err(Error::PartitionNotFound(c.partition.name().to_owned()));
                }
            }
        }
        let mut out = Vec::with_capacity(checks.len());
        for c in checks {
            out.push(Check::new(
                &self.data(&c.partition).await?,
                c.key,
                c.expected,
            ));
        }
        Ok(out)
    }

    /// Evaluates `checks` with plain reads: the first that fails, with what it read.
    async fn read_checks(&self, checks: &[Check]) -> Result<Option<BatchOutcome>> {
        for (index, c) in checks.iter().enumerate() {
            let current = self.inner.get(&c.partition, &c.key).await?;
            if !c.holds(current.as_deref()) {
                return Ok(Some(BatchOutcome::CheckFailed { index, current }));
            }
        }
        Ok(None)
    }

    fn alter_watch(&self, p: &Partition, prefix: &[u8], stream: WatchStream) -> WatchStream {
        let Some(fault) = self.active() else {
            return stream;
        };
        match fault {
            Fault::WatchDropsEvents => {
                let mut n = 0u64;
                stream
                    .filter(move |item| {
                        let keep = match item {
                            Ok(WatchEvent::Lagged(_)) | Err(_) => true,
                            Ok(_) => {
                                n += 1;
                                !n.is_multiple_of(3)
                            }
                        };
                        std::future::ready(keep)
                    })
                    .boxed()
            }
            Fault::WatchOutlivesDrop => stream.chain(futures_util::stream::pending()).boxed(),
            Fault::LaggedUndercounts => stream
                .map(|item| match item {
                    Ok(WatchEvent::Lagged(n)) => Ok(WatchEvent::Lagged(n.div_ceil(2))),
                    other => other,
                })
                .boxed(),
            Fault::RangeDeleteUnreported => stream
                .filter(|item| {
                    std::future::ready(!matches!(item, Ok(WatchEvent::RangeDeleted { .. })))
                })
                .boxed(),
            Fault::DeleteAbsentPublishes => {
                let receiver = {
                    let mut injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
                    injected
                        .entry(p.clone())
                        .or_insert_with(|| broadcast::channel(1024).0)
                        .subscribe()
                };
                let prefix = Bytes::copy_from_slice(prefix);
                let extra = futures_util::stream::unfold(receiver, move |mut receiver| {
                    let prefix = prefix.clone();
                    async move {
                        loop {
                            match receiver.recv().await {
                                Ok(WatchEvent::Delete { key }) if !key.starts_with(&prefix) => {}
                                Ok(event) => return Some((Ok(event), receiver)),
                                Err(broadcast::error::RecvError::Lagged(_)) => {}
                                Err(broadcast::error::RecvError::Closed) => return None,
                            }
                        }
                    }
                })
                .boxed();
                Merged {
                    inner: stream,
                    extra,
                }
                .boxed()
            }
            _ => stream,
        }
    }
}

/// The inner stream with extra items merged in; ends when the inner stream ends.
struct Merged {
    inner: WatchStream,
    extra: WatchStream,
}

impl Stream for Merged {
    type Item = Result<WatchEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(Some(item)) = this.extra.as_mut().poll_next(cx) {
            return Poll::Ready(Some(item));
        }
        this.inner.as_mut().poll_next(cx)
    }
}

/// Swaps neighbouring items of `stream`.
fn swap_pairs(stream: KvStream) -> KvStream {
    futures_util::stream::unfold(
        (stream.fuse(), VecDeque::new()),
        |(mut stream, mut buf)| async move {
            if buf.is_empty() {
                let first = stream.next().await?;
                match stream.next().await {
                    Some(second) => buf.extend([second, first]),
                    None => buf.push_back(first),
                }
            }
            let item = buf.pop_front()?;
            Some((item, (stream, buf)))
        },
    )
    .boxed()
}

/// The smallest key after `key`: an exclusive bound just past it includes it.
fn just_after(key: &Bytes) -> Bytes {
    let mut k = key.to_vec();
    k.push(0);
    Bytes::from(k)
}

#[async_trait]
impl StorageBackend for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.create_partition(partition).await?;
        if self.is(Fault::PartitionsLeak) {
            self.inner.create_partition(&self.shared).await?;
        }
        Ok(())
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.drop_partition(partition).await?;
        let mut injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
        injected.remove(partition);
        Ok(())
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        self.inner.partition_exists(partition).await
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        let mut list = self.inner.list_partitions().await?;
        if self.is(Fault::PartitionsLeak) {
            list.retain(|p| *p != self.shared);
        }
        Ok(list)
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        if self.invalid_key(key) {
            return Ok(None);
        }
        self.inner.get(&self.data(partition).await?, key).await
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        if keys.is_empty() && self.is(Fault::EmptyCallsUnchecked) {
            return Ok(Vec::new());
        }
        self.inner
            .get_many(&self.data(partition).await?, keys)
            .await
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        if self.invalid_key(key) {
            return Ok(false);
        }
        self.inner.exists(&self.data(partition).await?, key).await
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner
            .put(&self.data(partition).await?, key, value)
            .await
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        let target = self.data(partition).await?;
        self.inner
            .put_with(&target, key, value, self.put_options(options))
            .await?;
        if self.is(Fault::BatchPutKeepsTtl) {
            self.remember_ttl(partition, key, &options);
        }
        Ok(())
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        let target = self.data(partition).await?;
        if self.is(Fault::DeleteMissingErrors) || self.is(Fault::DeleteAbsentPublishes) {
            let absent = self.inner.get(&target, key).await?.is_none();
            if absent && self.is(Fault::DeleteMissingErrors) {
                return Err(Error::backend(self.name(), "no such key"));
            }
            self.inner.delete(&target, key).await?;
            if absent {
                self.inject(
                    partition,
                    WatchEvent::Delete {
                        key: Bytes::copy_from_slice(key),
                    },
                );
            }
            return Ok(());
        }
        self.inner.delete(&target, key).await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        let mut range = range;
        if self.is(Fault::ScanIgnoresExclusiveEnd) {
            range.end = range.end.as_ref().map(just_after);
        }
        let reverse = range.reverse;
        let stream = self.inner.scan(&self.data(partition).await?, range).await?;
        Ok(if reverse && self.is(Fault::ReverseScanUnordered) {
            swap_pairs(stream)
        } else {
            stream
        })
    }

    /// Forwarded unaltered: the scan faults are the scan cases' to catch.
    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.inner
            .scan_entries(&self.data(partition).await?, range)
            .await
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        if operations.is_empty() && self.is(Fault::EmptyCallsUnchecked) {
            return Ok(());
        }
        let operations = self.alter(operations).await?;
        if self.is(Fault::BatchOneAtATime) {
            for op in operations {
                self.inner.batch(vec![op]).await?;
                tokio::task::yield_now().await;
            }
            return Ok(());
        }
        self.inner.batch(operations).await
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        if checks.is_empty() && operations.is_empty() && self.is(Fault::EmptyCallsUnchecked) {
            return Ok(BatchOutcome::Applied);
        }
        let checks = self.alter_checks(checks).await?;
        let operations = self.alter(operations).await?;
        match self.active() {
            Some(Fault::CheckAfterWrites) => {
                self.inner.batch(operations).await?;
                Ok(self
                    .read_checks(&checks)
                    .await?
                    .unwrap_or(BatchOutcome::Applied))
            }
            Some(Fault::CheckThenBatch) => {
                if let Some(failed) = self.read_checks(&checks).await? {
                    return Ok(failed);
                }
                tokio::task::yield_now().await;
                self.inner.batch(operations).await?;
                Ok(BatchOutcome::Applied)
            }
            _ => self.inner.conditional_batch(checks, operations).await,
        }
    }

    async fn compare_and_swap(
        &self,
        partition: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let target = self.data(partition).await?;
        if self.is(Fault::CasGetThenPut) {
            let current = self.inner.get(&target, key).await?;
            if current.as_deref() != expected {
                return Ok(CasOutcome::Mismatch { current });
            }
            tokio::task::yield_now().await;
            match new {
                Some(v) => self.inner.put(&target, key, v).await?,
                None => self.inner.delete(&target, key).await?,
            }
            return Ok(CasOutcome::Swapped);
        }
        self.inner
            .compare_and_swap(&target, key, expected, new)
            .await
    }

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        let stream = self
            .inner
            .watch(&self.data(partition).await?, prefix)
            .await?;
        Ok(self.alter_watch(partition, prefix, stream))
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        self.inner
            .partition_size(&self.data(partition).await?)
            .await
    }

    async fn len(&self, partition: &Partition) -> Result<u64> {
        self.inner.len(&self.data(partition).await?).await
    }

    async fn is_empty(&self, partition: &Partition) -> Result<bool> {
        self.inner.is_empty(&self.data(partition).await?).await
    }

    async fn compact(&self, partition: &Partition) -> Result<()> {
        self.inner.compact(&self.data(partition).await?).await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }

    async fn status(&self) -> Result<Status> {
        self.inner.status().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
