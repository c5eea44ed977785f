//! backend-rocks through the `StorageBackend` trait against raw RocksDB doing the same
//! work in the same run: point get, point put, a batch of 100 puts, a forward snapshot
//! scan of 1k keys, over 10k 16-byte keys with 100-byte values. The raw database uses
//! the same settings (LZ4, same block cache size, WAL on, no sync) and one column
//! family. One criterion group per operation, `raw_rocks` and `adapter` side by side.
//!
//! Same work on both sides:
//! - reads run first, while both databases hold exactly what was loaded (the write
//!   groups leave a different number of overwritten versions behind on each side);
//! - a get copies the pinned value into `Bytes`, as the adapter must;
//! - a scan takes a snapshot, sets the start as the iterator's lower bound, and copies
//!   each key and value into `Bytes` (a raw iterator, as the adapter uses);
//! - a batch's `Vec<Operation>` is built outside the timed part (`iter_batched`), as the
//!   raw side's keys and values already exist;
//! - puts overwrite a key with the value it holds (RocksDB writes it anyway, unlike
//!   sled, which skips an equal value);
//! - `raw_rocks_blocking` runs the raw scan on tokio's blocking pool and hands its pairs
//!   back in one piece: the least any scan pays that keeps disk reads off the async
//!   threads (one hand-off there and back);
//! - `*_async` rows run the raw engine behind one boxed future on the same runtime as the
//!   adapter: the floor any `#[async_trait]` backend pays per call. The adapter rows call
//!   through `&dyn StorageBackend` (one boxed future per call; an `Arc<dyn StorageBackend>`
//!   forwards that same future).

use std::hint::black_box;
use std::sync::Arc;

use backend_api::{Bytes, Partition, StorageBackend};
use backend_rocks::{RocksBackend, RocksConfig};
use benches::{SCAN_LEN, Target, Workload, bench_raw, bench_raw_boxed, runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use rocksdb::{DB, ReadOptions, WriteBatch, WriteOptions};

const KEYS: usize = 10_000;
const BATCH: usize = 100;
const CACHE: usize = 64 << 20;

fn raw_db(path: &std::path::Path) -> DB {
    DB::open_cf(&benches::raw_rocks::options(), path, ["bench"]).expect("open raw rocksdb")
}

/// Visits the pairs of a snapshot of the column family `cf` from `start` on, each key
/// and value copied into `Bytes` (a raw iterator, as the adapter uses), until
/// [`SCAN_LEN`] of them; asserts there were that many.
fn raw_scan(
    raw: &DB,
    cf: &impl rocksdb::AsColumnFamilyRef,
    start: Vec<u8>,
    mut each: impl FnMut((Bytes, Bytes)),
) {
    let snapshot = raw.snapshot();
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(start);
    let mut iter = snapshot.raw_iterator_cf_opt(cf, opts);
    iter.seek_to_first();
    let mut n = 0;
    while let Some((key, value)) = iter.item() {
        each((Bytes::copy_from_slice(key), Bytes::copy_from_slice(value)));
        n += 1;
        if n == SCAN_LEN {
            break;
        }
        iter.next();
    }
    iter.status().expect("scan");
    assert_eq!(n, SCAN_LEN);
}

fn rocks_vs_raw(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let rt = runtime();
    let partition = Partition::new("bench").expect("valid name");

    let adapter_dir = tempfile::tempdir().expect("temp dir");
    let config = RocksConfig::new(adapter_dir.path()).block_cache_bytes(CACHE);
    let adapter = benches::open_and_load(&rt, RocksBackend::open(config), &partition, &workload);
    let target = Target::new(&rt, &adapter, &partition, &workload);

    let raw_dir = tempfile::tempdir().expect("temp dir");
    let raw = Arc::new(raw_db(raw_dir.path()));
    let cf = raw.cf_handle("bench").expect("raw column family");
    let write_opts = WriteOptions::default();
    let read_opts = ReadOptions::default();
    for chunk in workload.pairs().collect::<Vec<_>>().chunks(1_000) {
        let mut batch = WriteBatch::default();
        for (k, v) in chunk {
            batch.put_cf(&cf, k, v);
        }
        raw.write_opt(batch, &write_opts).expect("load raw");
    }

    let raw_get = |key: &[u8]| {
        let value = raw
            .get_pinned_cf_opt(&cf, key, &read_opts)
            .expect("get")
            .expect("present");
        Bytes::copy_from_slice(&value)
    };
    let mut group = c.benchmark_group("rocks_get");
    bench_raw(&mut group, "raw_rocks", &workload, raw_get);
    bench_raw_boxed(&mut group, "raw_rocks_async", &rt, &workload, raw_get);
    target.bench_get(&mut group, "adapter");
    group.finish();

    // Reads first, while both databases hold exactly what was loaded; writes after.
    let mut group = c.benchmark_group("rocks_scan_1k");
    let mut i = 0;
    group.bench_function("raw_rocks", |b| {
        b.iter(|| {
            i += 1;
            raw_scan(&raw, &cf, workload.scan_start(i).to_vec(), |pair| {
                black_box(pair);
            });
        })
    });
    // The floor of any scan that keeps RocksDB's reads off the async threads: the same
    // raw scan on tokio's blocking pool, its 1k pairs handed back in one piece.
    let mut i = 0;
    group.bench_function("raw_rocks_blocking", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let (raw, start) = (raw.clone(), workload.scan_start(i).to_vec());
            async move {
                let pairs = tokio::task::spawn_blocking(move || {
                    let cf = raw.cf_handle("bench").expect("raw column family");
                    let mut pairs = Vec::with_capacity(SCAN_LEN);
                    raw_scan(&raw, &cf, start, |pair| pairs.push(pair));
                    pairs
                })
                .await
                .expect("blocking scan");
                for pair in pairs {
                    black_box(pair);
                }
            }
        })
    });
    target.bench_scan(&mut group, "adapter");
    group.finish();

    let raw_put = |key: &[u8]| {
        raw.put_cf_opt(&cf, key, workload.value(), &write_opts)
            .expect("put")
    };
    let mut group = c.benchmark_group("rocks_put");
    bench_raw(&mut group, "raw_rocks", &workload, raw_put);
    bench_raw_boxed(&mut group, "raw_rocks_async", &rt, &workload, raw_put);
    target.bench_put(&mut group, "adapter");
    group.finish();

    {
        let mut group = c.benchmark_group("rocks_batch_100");
        let mut i = 0;
        group.bench_function("raw_rocks", |b| {
            b.iter(|| {
                let mut batch = WriteBatch::default();
                for _ in 0..BATCH {
                    i += 1;
                    batch.put_cf(&cf, workload.random_key(i), workload.value());
                }
                raw.write_opt(batch, &write_opts).expect("write batch")
            })
        });
        target.bench_batch_puts(&mut group, "adapter", BATCH, |_| {
            Bytes::copy_from_slice(workload.value())
        });
        group.finish();
    }

    rt.block_on(adapter.close()).expect("close");
}

criterion_group!(benches, rocks_vs_raw);
criterion_main!(benches);
