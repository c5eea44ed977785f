//! The seeds layers against the plain trait calls they are built on, in one run:
//! an index query of 1,000 results vs a keys-only scan of 1,000 keys, and a content
//! add / find of 4 KiB vs a plain put / get of 4 KiB, on backend-file (and backend-rocks
//! with `--features rocks`).
//!
//! ```sh
//! cargo bench -p seeds-battery --bench seeds               # file
//! cargo bench -p seeds-battery --bench seeds --features rocks --profile dev  # reuses the test build of RocksDB
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backend_api::{Partition, ScanRange, StorageBackend};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;
use seeds::content::ContentStore;
use seeds::index::{IndexEntry, IndexedStore, Query};
use tokio::runtime::Runtime;

const OBJECTS: usize = 5_000;
const HITS: usize = 1_000;
const VALUE: usize = 4096;

async fn subjects(dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn StorageBackend>)> {
    #[allow(unused_mut)]
    let mut out: Vec<(&'static str, Arc<dyn StorageBackend>)> = Vec::new();
    let file = backend_file::FileConfig::new(dir.join("file"));
    out.push((
        "file",
        Arc::new(
            backend_file::FileBackend::open(file)
                .await
                .expect("open file"),
        ),
    ));
    #[cfg(feature = "rocks")]
    {
        let rocks = backend_rocks::RocksConfig::new(dir.join("rocks"));
        out.push((
            "rocks",
            Arc::new(
                backend_rocks::RocksBackend::open(rocks)
                    .await
                    .expect("open rocks"),
            ),
        ));
    }
    out
}

fn value(n: u64) -> Vec<u8> {
    let mut v = vec![0x5Au8; VALUE];
    v[..8].copy_from_slice(&n.to_be_bytes());
    v
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let subjects = rt.block_on(subjects(dir.path()));
    let mut group = c.benchmark_group("seeds");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, backend) in subjects {
        // Index: OBJECTS objects, HITS of them with the queried term.
        let (index, plain) = rt.block_on(async {
            let index = IndexedStore::open(backend.clone(), "bench").await.unwrap();
            let plain = Partition::new("bench_plain").unwrap();
            backend.create_partition(&plain).await.unwrap();
            for i in 0..OBJECTS {
                let key = format!("obj{i:06}");
                let term = if i % (OBJECTS / HITS) == 0 {
                    "hit"
                } else {
                    "miss"
                };
                let entries = [IndexEntry::new("kind_bin", term)];
                index
                    .put_entries(key.as_bytes(), b"", &entries)
                    .await
                    .unwrap();
                if i < HITS {
                    backend.put(&plain, key.as_bytes(), b"").await.unwrap();
                }
            }
            (index, plain)
        });
        let query = Query::eq("kind_bin", "hit").max_results(HITS);
        group.bench_function(format!("index_query_1k/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let page = index.query(&query).await.unwrap();
                assert_eq!(page.hits.len(), HITS);
            })
        });
        group.bench_function(format!("plain_scan_1k/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let scan = backend
                    .scan(&plain, ScanRange::all().keys_only())
                    .await
                    .unwrap();
                assert_eq!(scan.count().await, HITS);
            })
        });

        // Content: adds of new 4 KiB values, finds of one, against put and get.
        let store = rt
            .block_on(ContentStore::open(backend.clone(), "bench"))
            .unwrap();
        let counter = AtomicU64::new(0);
        group.bench_function(format!("content_add_4KiB/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let v = value(counter.fetch_add(1, Ordering::Relaxed));
                store.add(&v).await.unwrap()
            })
        });
        group.bench_function(format!("plain_put_4KiB/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let key = seeds::content::Hash::of(&n.to_be_bytes());
                backend
                    .put(&plain, key.as_bytes(), &value(n))
                    .await
                    .unwrap()
            })
        });
        let known = rt.block_on(store.add(&value(u64::MAX))).unwrap();
        group.bench_function(format!("content_find_4KiB/{name}"), |b| {
            b.to_async(&rt)
                .iter(|| async { store.find(&known).await.unwrap().unwrap() })
        });
        group.bench_function(format!("plain_get_4KiB/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                backend
                    .get(store.partition(), known.as_bytes())
                    .await
                    .unwrap()
                    .unwrap()
            })
        });
        rt.block_on(backend.close()).unwrap();
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
