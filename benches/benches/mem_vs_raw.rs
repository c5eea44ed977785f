//! backend-mem through the `StorageBackend` trait against the raw structures doing the
//! same work: get and put of random keys, scans of 1k keys, over 10k 16-byte keys with
//! 100-byte values. One criterion group per operation, so the ratios read off directly.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;

use backend_api::{Partition, StorageBackend};
use backend_mem::{MemBackend, MemConfig};
use benches::raw::{Dash, RawMap, RwBTree};
use benches::{SCAN_LEN, Workload, bench_get, bench_put, bench_scan, runtime};
use criterion::{Criterion, criterion_group, criterion_main};

const KEYS: usize = 10_000;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn mem_vs_raw(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let rt = runtime();
    let partition = Partition::new("bench").expect("valid name");
    let mem: Arc<dyn StorageBackend> = rt.block_on(async {
        let db = MemBackend::open(MemConfig::default())
            .await
            .expect("open mem");
        benches::load(&db, &partition, &workload)
            .await
            .expect("load mem");
        Arc::new(db)
    });
    let raws: Vec<Box<dyn RawMap>> = vec![Box::new(RwBTree::default()), Box::new(Dash::default())];
    for raw in &raws {
        benches::raw::load(raw.as_ref(), &workload);
    }

    let mut group = c.benchmark_group("get");
    for raw in &raws {
        let mut i = 0;
        group.bench_function(raw.name(), |b| {
            b.iter(|| {
                i += 1;
                raw.get(workload.random_key(i)).expect("present")
            })
        });
    }
    // The floor any `StorageBackend` pays: the same raw get behind one boxed future
    // (what `#[async_trait]` makes of every trait call), driven by the same runtime.
    let btree = &raws[0];
    let mut i = 0;
    group.bench_function("rwlock_btreemap_boxed_async", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let key = workload.random_key(i);
            let fut: BoxFuture<'_, _> = Box::pin(async move { btree.get(key).expect("present") });
            fut
        })
    });
    bench_get(&mut group, "mem", &rt, &*mem, &partition, &workload);
    group.finish();

    let mut group = c.benchmark_group("put");
    for raw in &raws {
        let mut i = 0;
        group.bench_function(raw.name(), |b| {
            b.iter(|| {
                i += 1;
                raw.put(workload.random_key(i), workload.value())
            })
        });
    }
    bench_put(&mut group, "mem", &rt, &*mem, &partition, &workload);
    group.finish();

    let mut group = c.benchmark_group("scan_1k");
    for raw in &raws {
        let mut i = 0;
        if raw.scan(workload.key(0), 1).is_none() {
            continue; // unordered: no scan to compare
        }
        group.bench_function(raw.name(), |b| {
            b.iter(|| {
                i += 1;
                let n = raw.scan(workload.scan_start(i), SCAN_LEN);
                assert_eq!(black_box(n), Some(SCAN_LEN));
            })
        });
    }
    bench_scan(&mut group, "mem", &rt, &*mem, &partition, &workload);
    group.finish();
}

criterion_group!(benches, mem_vs_raw);
criterion_main!(benches);
