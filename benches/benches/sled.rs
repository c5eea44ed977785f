//! backend-sled through the `StorageBackend` trait against raw sled doing the same work
//! in the same run: point get, point put, a batch of 100 puts, a forward scan of 1k keys,
//! over 10k 16-byte keys with 100-byte values. One criterion group per operation, with
//! `raw_sled` and `adapter` side by side, so the overhead ratio reads off directly.

use std::hint::black_box;
use std::sync::Arc;

use backend_api::{Bytes, Operation, Partition, StorageBackend};
use backend_sled::{SledBackend, SledConfig};
use benches::{SCAN_LEN, Workload, bench_get, bench_put, bench_scan, runtime};
use criterion::{Criterion, criterion_group, criterion_main};

const KEYS: usize = 10_000;
const BATCH: usize = 100;
const CACHE: u64 = 64 << 20;

fn sled_vs_raw(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let rt = runtime();
    let partition = Partition::new("bench").expect("valid name");

    let adapter_dir = tempfile::tempdir().expect("temp dir");
    let adapter: Arc<dyn StorageBackend> = rt.block_on(async {
        let db = SledBackend::open(SledConfig::new(adapter_dir.path()).cache_capacity(CACHE))
            .await
            .expect("open sled adapter");
        benches::load(&db, &partition, &workload)
            .await
            .expect("load adapter");
        Arc::new(db)
    });

    // The raw engine: same sled settings, one tree, plain values (no header).
    let raw_dir = tempfile::tempdir().expect("temp dir");
    let raw_db = sled::Config::new()
        .path(raw_dir.path())
        .cache_capacity(CACHE)
        .open()
        .expect("open raw sled");
    let raw = raw_db.open_tree("bench").expect("raw tree");
    for chunk in workload.pairs().collect::<Vec<_>>().chunks(1_000) {
        let mut batch = sled::Batch::default();
        for (k, v) in chunk {
            batch.insert(*k, *v);
        }
        raw.apply_batch(batch).expect("load raw");
    }

    let mut group = c.benchmark_group("sled_get");
    let mut i = 0;
    group.bench_function("raw_sled", |b| {
        b.iter(|| {
            i += 1;
            raw.get(workload.random_key(i))
                .expect("get")
                .expect("present")
        })
    });
    bench_get(&mut group, "adapter", &rt, &adapter, &partition, &workload);
    group.finish();

    let mut group = c.benchmark_group("sled_put");
    let mut i = 0;
    group.bench_function("raw_sled", |b| {
        b.iter(|| {
            i += 1;
            raw.insert(workload.random_key(i), workload.value())
                .expect("insert")
        })
    });
    bench_put(&mut group, "adapter", &rt, &adapter, &partition, &workload);
    group.finish();

    let value = Bytes::copy_from_slice(workload.value());
    let mut group = c.benchmark_group("sled_batch_100");
    let mut i = 0;
    group.bench_function("raw_sled", |b| {
        b.iter(|| {
            let mut batch = sled::Batch::default();
            for _ in 0..BATCH {
                i += 1;
                batch.insert(workload.random_key(i), workload.value());
            }
            raw.apply_batch(batch).expect("apply_batch")
        })
    });
    let mut i = 0;
    group.bench_function("adapter", |b| {
        b.to_async(&rt).iter(|| {
            let ops: Vec<Operation> = (0..BATCH)
                .map(|_| {
                    i += 1;
                    Operation::put(
                        &partition,
                        Bytes::copy_from_slice(workload.random_key(i)),
                        value.clone(),
                    )
                })
                .collect();
            let adapter = &adapter;
            async move { adapter.batch(ops).await.expect("batch") }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sled_scan_1k");
    let mut i = 0;
    group.bench_function("raw_sled", |b| {
        b.iter(|| {
            i += 1;
            let mut n = 0;
            for item in raw.range(workload.scan_start(i)..).take(SCAN_LEN) {
                black_box(item.expect("scan item"));
                n += 1;
            }
            assert_eq!(n, SCAN_LEN);
        })
    });
    bench_scan(&mut group, "adapter", &rt, &adapter, &partition, &workload);
    group.finish();

    rt.block_on(adapter.close()).expect("close");
}

criterion_group!(benches, sled_vs_raw);
criterion_main!(benches);
