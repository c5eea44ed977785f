//! The candidate structures for backend-mem, measured alone (single-threaded): get,
//! put (overwrite) and a 1k-key ordered scan over 100k 16-byte keys with 100-byte
//! values. The numbers behind the choice documented in backend-mem's crate docs.

use std::hint::black_box;

use benches::raw::{Dash, RawMap, RwBTree, SkipList};
use benches::{SCAN_LEN, Workload};
use criterion::{Criterion, criterion_group, criterion_main};

const KEYS: usize = 100_000;

fn structures(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let maps: Vec<Box<dyn RawMap>> = vec![
        Box::new(RwBTree::default()),
        Box::new(SkipList::default()),
        Box::new(Dash::default()),
    ];
    for map in &maps {
        benches::raw::load(map.as_ref(), &workload);
    }

    let mut group = c.benchmark_group("structures_get");
    for map in &maps {
        let mut i = 0;
        group.bench_function(map.name(), |b| {
            b.iter(|| {
                i += 1;
                map.get(workload.random_key(i)).expect("present")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("structures_put");
    for map in &maps {
        let mut i = 0;
        group.bench_function(map.name(), |b| {
            b.iter(|| {
                i += 1;
                map.put(workload.random_key(i), workload.value())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("structures_scan_1k");
    for map in &maps {
        if map.scan(workload.key(0), 1).is_none() {
            continue;
        }
        let mut i = 0;
        group.bench_function(map.name(), |b| {
            b.iter(|| {
                i += 1;
                black_box(map.scan(workload.scan_start(i), SCAN_LEN))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, structures);
criterion_main!(benches);
