//! A scriptable backend for the layer tests: a `MemBackend` that records every call,
//! and can fail, slow down or hang the next calls.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use futures_util::StreamExt;
use std::time::Duration;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, EntryStream, Error, KvStream, Operation,
    Partition, PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use backend_mem::{MemBackend, MemConfig};
use parking_lot::Mutex;

/// What the next failing calls answer.
#[derive(Clone, Copy, Debug)]
pub enum Fail {
    Unavailable,
    Timeout,
    Backend,
}

impl Fail {
    fn error(self) -> Error {
        match self {
            Fail::Unavailable => Error::unavailable("probe", None),
            Fail::Timeout => Error::Timeout {
                operation: "probe",
                after: Duration::ZERO,
            },
            Fail::Backend => Error::backend("mem", "probe failure"),
        }
    }
}

/// Records calls by method name; fails, delays or hangs them on demand.
pub struct Probe {
    inner: MemBackend,
    pub calls: Mutex<Vec<&'static str>>,
    fail_next: AtomicU32,
    fail_with: Mutex<Fail>,
    hang_next: AtomicU32,
    delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Scans yield their pairs and then never end.
    pub stall_scans: AtomicBool,
    /// `get` waits this long after reading, before it answers.
    read_lag: Mutex<Duration>,
    /// Declare `cross_process_watch` (mem's watch sees every write to the store, so a
    /// write straight to the probe plays another process's).
    pub cross_process: AtomicBool,
}

impl Probe {
    pub async fn new() -> Arc<Probe> {
        Self::with(MemConfig::default()).await
    }

    pub async fn with(config: MemConfig) -> Arc<Probe> {
        Arc::new(Probe {
            inner: MemBackend::open(config).await.expect("open mem"),
            calls: Mutex::new(Vec::new()),
            fail_next: AtomicU32::new(0),
            fail_with: Mutex::new(Fail::Unavailable),
            hang_next: AtomicU32::new(0),
            delay: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            stall_scans: AtomicBool::new(false),
            read_lag: Mutex::new(Duration::ZERO),
            cross_process: AtomicBool::new(false),
        })
    }

    /// The next `n` calls answer `fail` without reaching the store.
    pub fn fail_next(&self, n: u32, fail: Fail) {
        *self.fail_with.lock() = fail;
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// The next `n` calls never answer.
    pub fn hang_next(&self, n: u32) {
        self.hang_next.store(n, Ordering::SeqCst);
    }

    /// `get` answers `d` after it read the value (widens read/write races).
    pub fn read_lag(&self, d: Duration) {
        *self.read_lag.lock() = d;
    }

    /// Every call first sleeps `d`.
    pub fn delay(&self, d: Duration) {
        *self.delay.lock() = d;
    }

    pub fn count(&self, method: &str) -> usize {
        self.calls.lock().iter().filter(|m| **m == method).count()
    }

    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock())
    }

    async fn enter(&self, method: &'static str) -> Result<InFlight<'_>> {
        self.calls.lock().push(method);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(&self.in_flight);
        let delay = *self.delay.lock();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if take_one(&self.hang_next) {
            std::future::pending::<()>().await;
        }
        if take_one(&self.fail_next) {
            return Err(self.fail_with.lock().error());
        }
        Ok(guard)
    }
}

fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl StorageBackend for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            cross_process_watch: self.cross_process.load(Ordering::SeqCst),
            ..self.inner.capabilities()
        }
    }
    async fn create_partition(&self, p: &Partition) -> Result<()> {
        let _g = self.enter("create_partition").await?;
        self.inner.create_partition(p).await
    }
    async fn drop_partition(&self, p: &Partition) -> Result<()> {
        let _g = self.enter("drop_partition").await?;
        self.inner.drop_partition(p).await
    }
    async fn partition_exists(&self, p: &Partition) -> Result<bool> {
        let _g = self.enter("partition_exists").await?;
        self.inner.partition_exists(p).await
    }
    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        let _g = self.enter("list_partitions").await?;
        self.inner.list_partitions().await
    }
    async fn get(&self, p: &Partition, k: &[u8]) -> Result<Option<Bytes>> {
        let _g = self.enter("get").await?;
        let value = self.inner.get(p, k).await;
        let lag = *self.read_lag.lock();
        if !lag.is_zero() {
            tokio::time::sleep(lag).await;
        }
        value
    }
    async fn get_many(&self, p: &Partition, ks: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        let _g = self.enter("get_many").await?;
        self.inner.get_many(p, ks).await
    }
    async fn exists(&self, p: &Partition, k: &[u8]) -> Result<bool> {
        let _g = self.enter("exists").await?;
        self.inner.exists(p, k).await
    }
    async fn put(&self, p: &Partition, k: &[u8], v: &[u8]) -> Result<()> {
        let _g = self.enter("put").await?;
        self.inner.put(p, k, v).await
    }
    async fn put_with(&self, p: &Partition, k: &[u8], v: &[u8], o: PutOptions) -> Result<()> {
        let _g = self.enter("put_with").await?;
        self.inner.put_with(p, k, v, o).await
    }
    async fn delete(&self, p: &Partition, k: &[u8]) -> Result<()> {
        let _g = self.enter("delete").await?;
        self.inner.delete(p, k).await
    }
    async fn scan(&self, p: &Partition, r: ScanRange) -> Result<KvStream> {
        let _g = self.enter("scan").await?;
        let stream = self.inner.scan(p, r).await?;
        if self.stall_scans.load(Ordering::SeqCst) {
            return Ok(Box::pin(stream.chain(futures_util::stream::pending())));
        }
        Ok(stream)
    }
    async fn scan_entries(&self, p: &Partition, r: ScanRange) -> Result<EntryStream> {
        let _g = self.enter("scan_entries").await?;
        let stream = self.inner.scan_entries(p, r).await?;
        if self.stall_scans.load(Ordering::SeqCst) {
            return Ok(Box::pin(stream.chain(futures_util::stream::pending())));
        }
        Ok(stream)
    }
    async fn batch(&self, ops: Vec<Operation>) -> Result<()> {
        let _g = self.enter("batch").await?;
        self.inner.batch(ops).await
    }
    async fn conditional_batch(&self, c: Vec<Check>, o: Vec<Operation>) -> Result<BatchOutcome> {
        let _g = self.enter("conditional_batch").await?;
        self.inner.conditional_batch(c, o).await
    }
    async fn compare_and_swap(
        &self,
        p: &Partition,
        k: &[u8],
        e: Option<&[u8]>,
        n: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let _g = self.enter("compare_and_swap").await?;
        self.inner.compare_and_swap(p, k, e, n).await
    }
    async fn watch(&self, p: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        let _g = self.enter("watch").await?;
        self.inner.watch(p, prefix).await
    }
    async fn partition_size(&self, p: &Partition) -> Result<u64> {
        let _g = self.enter("partition_size").await?;
        self.inner.partition_size(p).await
    }
    async fn len(&self, p: &Partition) -> Result<u64> {
        let _g = self.enter("len").await?;
        self.inner.len(p).await
    }
    async fn is_empty(&self, p: &Partition) -> Result<bool> {
        let _g = self.enter("is_empty").await?;
        self.inner.is_empty(p).await
    }
    async fn compact(&self, p: &Partition) -> Result<()> {
        let _g = self.enter("compact").await?;
        self.inner.compact(p).await
    }
    async fn flush(&self) -> Result<()> {
        let _g = self.enter("flush").await?;
        self.inner.flush().await
    }
    async fn status(&self) -> Result<Status> {
        let _g = self.enter("status").await?;
        self.inner.status().await
    }
    async fn close(&self) -> Result<()> {
        let _g = self.enter("close").await?;
        self.inner.close().await
    }
}

pub fn part(name: &str) -> Partition {
    Partition::new(name).expect("valid partition name")
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
