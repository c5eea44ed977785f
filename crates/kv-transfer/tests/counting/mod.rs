//! A backend wrapper that counts the pairs written through `batch` and can fail the
//! n-th batch (a process dying in the middle of a copy).

// Each test binary uses part of this helper.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use backend_api::{
    Capabilities, EntryStream, Error, KvStream, Operation, Partition, PutOptions, Result,
    ScanRange, Status, StorageBackend, async_trait,
};
use bytes::Bytes;

pub struct Counting {
    inner: Arc<dyn StorageBackend>,
    pairs: Arc<AtomicU64>,
    batches: AtomicU64,
    fail_after: Option<u64>,
    /// Answer `scan_entries` with `Unsupported` (a source that cannot report TTLs).
    hide_deadlines: bool,
    /// Declare no `ttl` capability (a destination without TTLs).
    no_ttl: bool,
}

impl Counting {
    pub fn new(inner: Arc<dyn StorageBackend>, pairs: Arc<AtomicU64>) -> Self {
        Counting {
            inner,
            pairs,
            batches: AtomicU64::new(0),
            fail_after: None,
            hide_deadlines: false,
            no_ttl: false,
        }
    }

    /// `scan_entries` answers `Unsupported`, as from a backend that keeps TTLs but
    /// cannot report them.
    pub fn hiding_deadlines(mut self) -> Self {
        self.hide_deadlines = true;
        self
    }

    /// Declares no `ttl` capability, as a backend without TTLs.
    pub fn without_ttl(mut self) -> Self {
        self.no_ttl = true;
        self
    }

    /// Batches after the first `n` write half of their pairs, then fail.
    pub fn fail_after_batches(mut self, n: u64) -> Self {
        self.fail_after = Some(n);
        self
    }
}

#[async_trait]
impl StorageBackend for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ttl: self.inner.capabilities().ttl && !self.no_ttl,
            ..self.inner.capabilities()
        }
    }
    async fn create_partition(&self, p: &Partition) -> Result<()> {
        self.inner.create_partition(p).await
    }
    async fn drop_partition(&self, p: &Partition) -> Result<()> {
        self.inner.drop_partition(p).await
    }
    async fn partition_exists(&self, p: &Partition) -> Result<bool> {
        self.inner.partition_exists(p).await
    }
    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.inner.list_partitions().await
    }
    async fn get(&self, p: &Partition, k: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get(p, k).await
    }
    async fn put(&self, p: &Partition, k: &[u8], v: &[u8]) -> Result<()> {
        self.pairs.fetch_add(1, Ordering::SeqCst);
        self.inner.put(p, k, v).await
    }
    async fn put_with(&self, p: &Partition, k: &[u8], v: &[u8], o: PutOptions) -> Result<()> {
        self.pairs.fetch_add(1, Ordering::SeqCst);
        self.inner.put_with(p, k, v, o).await
    }
    async fn delete(&self, p: &Partition, k: &[u8]) -> Result<()> {
        self.inner.delete(p, k).await
    }
    async fn scan(&self, p: &Partition, r: ScanRange) -> Result<KvStream> {
        self.inner.scan(p, r).await
    }
    async fn scan_entries(&self, p: &Partition, r: ScanRange) -> Result<EntryStream> {
        if self.hide_deadlines {
            return Err(Error::unsupported("counting", "scan_entries"));
        }
        self.inner.scan_entries(p, r).await
    }
    async fn batch(&self, mut ops: Vec<Operation>) -> Result<()> {
        let n = self.batches.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|f| n >= f) {
            ops.truncate(ops.len() / 2);
            self.pairs.fetch_add(ops.len() as u64, Ordering::SeqCst);
            self.inner.batch(ops).await?;
            return Err(Error::unavailable(
                "simulated crash in the middle of a batch",
                None,
            ));
        }
        self.pairs.fetch_add(ops.len() as u64, Ordering::SeqCst);
        self.inner.batch(ops).await
    }
    async fn partition_size(&self, p: &Partition) -> Result<u64> {
        self.inner.partition_size(p).await
    }
    async fn len(&self, p: &Partition) -> Result<u64> {
        self.inner.len(p).await
    }
    async fn is_empty(&self, p: &Partition) -> Result<bool> {
        self.inner.is_empty(p).await
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
