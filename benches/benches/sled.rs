//! backend-sled through the `StorageBackend` trait against raw sled doing the same work
//! in the same run: point get, point put, a batch of 100 puts, a forward scan of 1k keys,
//! over 10k 16-byte keys with 100-byte values. One criterion group per operation, with
//! `raw_sled` and `adapter` side by side, so the overhead ratio reads off directly.
//!
//! Same work on both sides:
//! - a get returns the value as `Bytes`: raw sled wraps its `IVec` without copying
//!   (`Bytes::from_owner`), as the adapter does;
//! - a scan hands out `(Bytes, Bytes)` pairs: raw sled converts key and value exactly
//!   as the adapter does (keys up to 22 bytes copied, values shared);
//! - `put`/`batch_100` write the value every key already holds (sled short-circuits an
//!   insert of an equal value, on both sides); `put_fresh`/`batch_100_fresh` write a
//!   value that changes on every write, so sled really logs it;
//! - a batch's `Vec<Operation>` is built outside the timed part (criterion's
//!   `iter_batched`), as the raw side's keys and values already exist;
//! - `raw_sled_blocking` runs the raw scan on tokio's blocking pool and hands its `IVec`s
//!   back in one piece (converted to `Bytes` on the caller's side, as the adapter does):
//!   the least any scan pays that keeps disk reads off the async threads;
//! - `*_async` rows run the raw engine behind one boxed future on the same runtime as the
//!   adapter: the floor any `#[async_trait]` backend pays per call. The adapter rows call
//!   through `&dyn StorageBackend` (one boxed future per call; an `Arc<dyn StorageBackend>`
//!   forwards that same future).

use std::hint::black_box;

use backend_api::{Bytes, Partition, StorageBackend};
use backend_sled::{SledBackend, SledConfig};
use benches::{SCAN_LEN, Target, Workload, bench_raw, bench_raw_boxed, runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;

const KEYS: usize = 10_000;
const BATCH: usize = 100;
const CACHE: u64 = 64 << 20;

fn sled_vs_raw(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let rt = runtime();
    let partition = Partition::new("bench").expect("valid name");

    let adapter_dir = tempfile::tempdir().expect("temp dir");
    let config = SledConfig::new(adapter_dir.path()).cache_capacity(CACHE);
    let adapter = benches::open_and_load(&rt, SledBackend::open(config), &partition, &workload);
    let target = Target::new(&rt, &adapter, &partition, &workload);

    // The raw engine: same sled settings, one tree, plain values (no header).
    let raw_dir = tempfile::tempdir().expect("temp dir");
    let raw_db = sled::Config::new()
        .path(raw_dir.path())
        .cache_capacity(CACHE)
        .open()
        .expect("open raw sled");
    let raw = raw_db.open_tree("bench").expect("raw tree");
    let raw_tree = raw.clone();
    for chunk in workload.pairs().collect::<Vec<_>>().chunks(1_000) {
        let mut batch = sled::Batch::default();
        for (k, v) in chunk {
            batch.insert(*k, *v);
        }
        raw.apply_batch(batch).expect("load raw");
    }

    let raw_get = |key: &[u8]| Bytes::from_owner(raw.get(key).expect("get").expect("present"));
    let mut group = c.benchmark_group("sled_get");
    bench_raw(&mut group, "raw_sled", &workload, raw_get);
    bench_raw_boxed(&mut group, "raw_sled_async", &rt, &workload, raw_get);
    target.bench_get(&mut group, "adapter");
    group.finish();

    // Reads first, while both stores hold exactly what was loaded; writes after.
    let mut group = c.benchmark_group("sled_scan_1k");
    let mut i = 0;
    group.bench_function("raw_sled", |b| {
        b.iter(|| {
            i += 1;
            let mut n = 0;
            for item in raw.range(workload.scan_start(i)..).take(SCAN_LEN) {
                black_box(raw_pair(item));
                n += 1;
            }
            assert_eq!(n, SCAN_LEN);
        })
    });
    let mut i = 0;
    group.bench_function("raw_sled_async", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let iter = raw.range(workload.scan_start(i)..).take(SCAN_LEN);
            let stream = futures_util::stream::iter(iter.map(|item| Ok(raw_pair(item))));
            async move {
                let n = benches::drain(stream.boxed()).await.expect("scan items");
                assert_eq!(n, SCAN_LEN);
            }
        })
    });
    // The floor of any scan that keeps sled's (possible) disk reads off the async
    // threads: the same raw scan on tokio's blocking pool, handed back in one piece.
    let mut i = 0;
    group.bench_function("raw_sled_blocking", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let (raw, start) = (raw_tree.clone(), workload.scan_start(i).to_vec());
            async move {
                let pairs = tokio::task::spawn_blocking(move || {
                    let iter = raw.range(start..).take(SCAN_LEN);
                    iter.map(|item| item.expect("scan item"))
                        .collect::<Vec<_>>()
                })
                .await
                .expect("blocking scan");
                assert_eq!(pairs.len(), SCAN_LEN);
                for (key, value) in pairs {
                    black_box(raw_pair(Ok((key, value))));
                }
            }
        })
    });
    target.bench_scan(&mut group, "adapter");
    group.finish();

    let mut group = c.benchmark_group("sled_put");
    bench_raw(&mut group, "raw_sled", &workload, |key| {
        raw.insert(key, workload.value()).expect("insert")
    });
    target.bench_put(&mut group, "adapter");
    group.finish();

    let mut group = c.benchmark_group("sled_put_fresh");
    let mut i = 0;
    group.bench_function("raw_sled", |b| {
        b.iter(|| {
            i += 1;
            raw.insert(workload.random_key(i), &fresh_value(&workload, i)[..])
                .expect("insert")
        })
    });
    let mut i = 0;
    group.bench_function("raw_sled_async", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let (raw, key, value) = (&raw, workload.random_key(i), fresh_value(&workload, i));
            let fut: BoxFuture<'_, _> =
                Box::pin(async move { raw.insert(key, &value[..]).expect("insert") });
            fut
        })
    });
    let mut i = 0;
    group.bench_function("adapter", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let (adapter, partition) = (&adapter, &partition);
            let (key, value) = (workload.random_key(i), fresh_value(&workload, i));
            async move { adapter.put(partition, key, &value).await.expect("put") }
        })
    });
    group.finish();

    for (name, fresh) in [("sled_batch_100", false), ("sled_batch_100_fresh", true)] {
        let mut group = c.benchmark_group(name);
        let mut i = 0;
        group.bench_function("raw_sled", |b| {
            b.iter(|| {
                let mut batch = sled::Batch::default();
                for _ in 0..BATCH {
                    i += 1;
                    if fresh {
                        batch.insert(workload.random_key(i), &fresh_value(&workload, i)[..]);
                    } else {
                        batch.insert(workload.random_key(i), workload.value());
                    }
                }
                raw.apply_batch(batch).expect("apply_batch")
            })
        });
        target.bench_batch_puts(&mut group, "adapter", BATCH, |i| {
            if fresh {
                Bytes::copy_from_slice(&fresh_value(&workload, i))
            } else {
                Bytes::copy_from_slice(workload.value())
            }
        });
        group.finish();
    }

    rt.block_on(adapter.close()).expect("close");
}

/// A pair as the adapter hands it out: keys up to 22 bytes (sled keeps those inline)
/// copied, values shared with sled's buffer.
fn raw_pair(item: sled::Result<(sled::IVec, sled::IVec)>) -> (Bytes, Bytes) {
    let (key, value) = item.expect("scan item");
    let key = if key.len() <= 22 {
        Bytes::copy_from_slice(&key)
    } else {
        Bytes::from_owner(key)
    };
    (key, Bytes::from_owner(value))
}

/// The workload's value with write number `i` in its first 8 bytes: never equal to
/// what the key holds, so the engine cannot skip the write.
fn fresh_value(workload: &Workload, i: usize) -> [u8; benches::VALUE_LEN] {
    let mut value = [0u8; benches::VALUE_LEN];
    value.copy_from_slice(workload.value());
    value[..8].copy_from_slice(&(i as u64).to_be_bytes());
    value
}

criterion_group!(benches, sled_vs_raw);
criterion_main!(benches);
