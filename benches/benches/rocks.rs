//! backend-rocks through the `StorageBackend` trait against raw RocksDB doing the same
//! work in the same run: point get, point put, a batch of 100 puts, a forward snapshot
//! scan of 1k keys, over 10k 16-byte keys with 100-byte values. The raw database uses
//! the same settings (LZ4, same block cache size, WAL on, no sync) and one column
//! family. One criterion group per operation, `raw_rocks` and `adapter` side by side.

use std::hint::black_box;
use std::sync::Arc;

use backend_api::{Bytes, Operation, Partition, StorageBackend};
use backend_rocks::{RocksBackend, RocksConfig};
use benches::{SCAN_LEN, Workload, bench_get, bench_put, bench_scan, runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, Direction, IteratorMode, Options, ReadOptions,
    WriteBatch, WriteOptions,
};

const KEYS: usize = 10_000;
const BATCH: usize = 100;
const CACHE: usize = 64 << 20;

fn raw_db(path: &std::path::Path) -> DB {
    let cache = Cache::new_lru_cache(CACHE);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&cache);
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_compression_type(DBCompressionType::Lz4);
    opts.set_write_buffer_size(16 << 20);
    opts.set_block_based_table_factory(&table);
    DB::open_cf(&opts, path, ["bench"]).expect("open raw rocksdb")
}

fn rocks_vs_raw(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let rt = runtime();
    let partition = Partition::new("bench").expect("valid name");

    let adapter_dir = tempfile::tempdir().expect("temp dir");
    let adapter: Arc<dyn StorageBackend> = rt.block_on(async {
        let config = RocksConfig::new(adapter_dir.path()).block_cache_bytes(CACHE);
        let db = RocksBackend::open(config)
            .await
            .expect("open rocks adapter");
        benches::load(&db, &partition, &workload)
            .await
            .expect("load adapter");
        Arc::new(db)
    });

    let raw_dir = tempfile::tempdir().expect("temp dir");
    let raw = raw_db(raw_dir.path());
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

    let mut group = c.benchmark_group("rocks_get");
    let mut i = 0;
    group.bench_function("raw_rocks", |b| {
        b.iter(|| {
            i += 1;
            let value = raw
                .get_pinned_cf_opt(&cf, workload.random_key(i), &read_opts)
                .expect("get")
                .expect("present");
            black_box(Bytes::copy_from_slice(&value))
        })
    });
    bench_get(&mut group, "adapter", &rt, &adapter, &partition, &workload);
    group.finish();

    let mut group = c.benchmark_group("rocks_put");
    let mut i = 0;
    group.bench_function("raw_rocks", |b| {
        b.iter(|| {
            i += 1;
            raw.put_cf_opt(&cf, workload.random_key(i), workload.value(), &write_opts)
                .expect("put")
        })
    });
    bench_put(&mut group, "adapter", &rt, &adapter, &partition, &workload);
    group.finish();

    let value = Bytes::copy_from_slice(workload.value());
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

    let mut group = c.benchmark_group("rocks_scan_1k");
    let mut i = 0;
    group.bench_function("raw_rocks", |b| {
        b.iter(|| {
            i += 1;
            let snapshot = raw.snapshot();
            let mode = IteratorMode::From(workload.scan_start(i), Direction::Forward);
            let mut n = 0;
            for item in snapshot
                .iterator_cf_opt(&cf, ReadOptions::default(), mode)
                .take(SCAN_LEN)
            {
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

criterion_group!(benches, rocks_vs_raw);
criterion_main!(benches);
