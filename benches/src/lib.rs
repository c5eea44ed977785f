//! Shared workload helpers for the criterion benches in `benches/benches/`.
//!
//! Every bench uses the same workload: [`KEY_LEN`]-byte keys, [`VALUE_LEN`]-byte values,
//! keys visited in a fixed pseudo-random order, scans of [`SCAN_LEN`] keys. A backend is
//! opened and loaded with [`open_and_load`] and measured through the `StorageBackend`
//! trait with the methods of [`Target`] ([`Target::bench_get`], [`Target::bench_put`],
//! [`Target::bench_scan`], [`Target::bench_batch_puts`]); the raw engines do the same
//! work directly ([`bench_raw`], [`bench_raw_boxed`] visit the keys in the same order),
//! so one criterion group per operation shows the ratio. Adding a backend means opening
//! it and calling the methods with its name.
#![deny(unsafe_code)]

use std::future::Future;
use std::hint::black_box;

use backend_api::{Bytes, KvStream, Operation, Partition, Result, ScanRange, StorageBackend};
use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

pub mod raw;

// The one-place comparison (`benches/benches/compare.rs`, `bench_report`).
pub mod adapter;
pub mod mix;
pub mod null;
pub mod plan;
pub mod raw_log;
pub mod raw_mem;
pub mod raw_redis;
pub mod raw_rocks;
pub mod raw_sled;
pub mod report;
pub mod subject;
pub mod table;
pub mod workloads;

/// Key size, in bytes.
pub const KEY_LEN: usize = 16;
/// Value size, in bytes.
pub const VALUE_LEN: usize = 100;
/// Keys a scan visits.
pub const SCAN_LEN: usize = 1_000;
/// Response timeout of both redis subjects: loading the 64 KiB data set pipelines
/// megabytes per call, past the `redis` crate's default.
pub const REDIS_RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A fixed data set: `n` distinct keys, one value, and a visiting order.
pub struct Workload {
    keys: Vec<[u8; KEY_LEN]>,
    order: Vec<usize>,
    value: Vec<u8>,
}

impl Workload {
    /// `n` keys `"key-" + 12 zero-padded digits` (sortable, 16 bytes), 100-byte values,
    /// visited in a deterministic pseudo-random order.
    pub fn new(n: usize) -> Self {
        let keys = (0..n).map(key).collect();
        let mut order: Vec<usize> = (0..n).collect();
        // Fisher-Yates with a fixed xorshift: same order on every run.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for i in (1..n).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let value = (0..VALUE_LEN).map(|i| (i % 251) as u8).collect();
        Workload { keys, order, value }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Key number `i`, in key order.
    pub fn key(&self, i: usize) -> &[u8] {
        &self.keys[i]
    }

    /// The `i`-th key of the visiting order (wraps around).
    pub fn random_key(&self, i: usize) -> &[u8] {
        &self.keys[self.order[i % self.order.len()]]
    }

    /// A scan start for visit `i` such that [`SCAN_LEN`] keys follow it.
    pub fn scan_start(&self, i: usize) -> &[u8] {
        let starts = self.keys.len().saturating_sub(SCAN_LEN).max(1);
        &self.keys[self.order[i % self.order.len()] % starts]
    }

    /// The value every key holds.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Every key with the value, in key order.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.keys.iter().map(|k| (&k[..], &self.value[..]))
    }
}

/// Key number `i`: 16 bytes, sorting like `i`.
pub fn key(i: usize) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    let text = format!("key-{i:012}");
    out.copy_from_slice(text.as_bytes());
    out
}

/// A single-threaded tokio runtime for driving a backend from criterion.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// Creates `partition` on `backend` and writes every pair of `workload`, in batches.
pub async fn load(
    backend: &dyn StorageBackend,
    partition: &Partition,
    workload: &Workload,
) -> Result<()> {
    backend.create_partition(partition).await?;
    let pairs: Vec<_> = workload.pairs().collect();
    for chunk in pairs.chunks(1_000) {
        let ops = chunk
            .iter()
            .map(|(k, v)| {
                Operation::put(
                    partition,
                    Bytes::copy_from_slice(k),
                    Bytes::copy_from_slice(v),
                )
            })
            .collect();
        backend.batch(ops).await?;
    }
    Ok(())
}

/// Opens a backend on `rt` with `open`, then [`load`]s `workload` into `partition`.
pub fn open_and_load<B: StorageBackend>(
    rt: &tokio::runtime::Runtime,
    open: impl Future<Output = Result<B>>,
    partition: &Partition,
    workload: &Workload,
) -> B {
    rt.block_on(async {
        let backend = open.await.expect("open adapter");
        load(&backend, partition, workload)
            .await
            .expect("load adapter");
        backend
    })
}

/// Reads a scan to the end, returning how many pairs it gave.
pub async fn drain(mut stream: KvStream) -> Result<usize> {
    let mut count = 0;
    while let Some(item) = stream.next().await {
        black_box(item?);
        count += 1;
    }
    Ok(count)
}

/// Benchmarks `op` on a random present key of `workload` per iteration, as `id`
/// (the keys in the order [`Target`]'s benches visit them).
pub fn bench_raw<'w, T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    workload: &'w Workload,
    mut op: impl FnMut(&'w [u8]) -> T,
) {
    let mut i = 0;
    group.bench_function(id, |b| {
        b.iter(|| {
            i += 1;
            op(workload.random_key(i))
        })
    });
}

/// [`bench_raw`] with each call inside one boxed future on `rt`: the floor any
/// `#[async_trait]` backend pays around the same raw engine call.
pub fn bench_raw_boxed<'w, T: Send>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    rt: &tokio::runtime::Runtime,
    workload: &'w Workload,
    op: impl Fn(&'w [u8]) -> T + Sync,
) {
    let op = &op;
    let mut i = 0;
    group.bench_function(id, |b| {
        b.to_async(rt).iter(|| {
            i += 1;
            let key = workload.random_key(i);
            let fut: BoxFuture<'_, T> = Box::pin(async move { op(key) });
            fut
        })
    });
}

/// Benchmarks `op` on a random present key of `workload` per iteration, as `id`.
fn bench_each_key<'w, F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    rt: &tokio::runtime::Runtime,
    workload: &'w Workload,
    mut op: F,
) where
    F: FnMut(&'w [u8]) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut i = 0;
    group.bench_function(id, |b| {
        b.to_async(rt).iter(|| {
            i += 1;
            op(workload.random_key(i))
        })
    });
}

/// A backend holding `workload` in `partition`, driven on `rt`: what its benches
/// measure, each as one function `id` of a criterion group.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The runtime the calls run on.
    pub rt: &'a tokio::runtime::Runtime,
    /// The backend, called through the trait object.
    pub backend: &'a dyn StorageBackend,
    /// The partition holding the workload.
    pub partition: &'a Partition,
    /// The keys and value loaded.
    pub workload: &'a Workload,
}

impl<'a> Target<'a> {
    /// `backend`, holding `workload` in `partition`, driven on `rt`.
    pub fn new(
        rt: &'a tokio::runtime::Runtime,
        backend: &'a dyn StorageBackend,
        partition: &'a Partition,
        workload: &'a Workload,
    ) -> Self {
        Target {
            rt,
            backend,
            partition,
            workload,
        }
    }

    /// Benchmarks `get` of a random present key, as `id` in `group`.
    pub fn bench_get(&self, group: &mut BenchmarkGroup<'_, WallTime>, id: &str) {
        bench_each_key(group, id, self.rt, self.workload, |key| async move {
            let value = self.backend.get(self.partition, key).await.expect("get");
            black_box(value.expect("present"));
        });
    }

    /// Benchmarks `put` overwriting a random present key, as `id` in `group`.
    pub fn bench_put(&self, group: &mut BenchmarkGroup<'_, WallTime>, id: &str) {
        bench_each_key(group, id, self.rt, self.workload, |key| async move {
            let value = self.workload.value();
            self.backend
                .put(self.partition, key, value)
                .await
                .expect("put");
        });
    }

    /// Benchmarks a batch of `size` puts to random present keys, as `id`; `value(i)` is
    /// the value of the `i`-th put of the run. The `Vec<Operation>` is built outside the
    /// timed part (`iter_batched`), as a raw engine's keys and values already exist.
    pub fn bench_batch_puts(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        id: &str,
        size: usize,
        mut value: impl FnMut(usize) -> Bytes,
    ) {
        let mut i = 0;
        group.bench_function(id, |b| {
            b.to_async(self.rt).iter_batched(
                || {
                    (0..size)
                        .map(|_| {
                            i += 1;
                            let key = Bytes::copy_from_slice(self.workload.random_key(i));
                            Operation::put(self.partition, key, value(i))
                        })
                        .collect::<Vec<_>>()
                },
                |ops| async move { self.backend.batch(ops).await.expect("batch") },
                criterion::BatchSize::SmallInput,
            )
        });
    }

    /// Benchmarks a forward scan of [`SCAN_LEN`] pairs from a random start, as `id`.
    pub fn bench_scan(&self, group: &mut BenchmarkGroup<'_, WallTime>, id: &str) {
        let mut i = 0;
        group.bench_function(id, |b| {
            b.to_async(self.rt).iter(|| {
                i += 1;
                let range = ScanRange::all()
                    .start(Bytes::copy_from_slice(self.workload.scan_start(i)))
                    .limit(SCAN_LEN);
                async move {
                    let stream = self
                        .backend
                        .scan(self.partition, range)
                        .await
                        .expect("scan");
                    let n = drain(stream).await.expect("scan items");
                    assert_eq!(n, SCAN_LEN);
                }
            })
        });
    }
}
