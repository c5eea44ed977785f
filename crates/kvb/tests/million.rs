//! 1M keys file -> rocks -> redis -> file, each copy verified equal, with throughput
//! against the raw floor (one scan plus batched writes through the trait, no pipelining,
//! no checkpoint) on the same pair. Ignored by default (minutes, RocksDB, a server):
//!
//! ```sh
//! cargo test --release -p kvb --test million -- --ignored --nocapture
//! ```
#![cfg(all(feature = "file", feature = "rocks", feature = "redis"))]

use std::sync::Arc;
use std::time::Instant;

use backend_api::{Operation, Partition, ScanRange, StorageBackend};
use futures_util::StreamExt;
use kv_transfer::{CopyOptions, digest_partition, ignore};

const KEYS: u64 = 1_000_000;
const BATCH: usize = 1000;

async fn open(url: &str) -> Arc<dyn StorageBackend> {
    backend_url::open(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// One scan of `src`, `batch` writes of BATCH pairs into `dst`, nothing else.
async fn raw_floor(src: &dyn StorageBackend, dst: &dyn StorageBackend, p: &Partition) -> f64 {
    dst.create_partition(p).await.unwrap();
    let started = Instant::now();
    let mut scan = src.scan(p, ScanRange::all()).await.unwrap();
    let mut ops = Vec::with_capacity(BATCH);
    let mut n = 0u64;
    while let Some(item) = scan.next().await {
        let (k, v) = item.unwrap();
        ops.push(Operation::put(p, k, v));
        n += 1;
        if ops.len() == BATCH {
            dst.batch(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    dst.batch(ops).await.unwrap();
    dst.flush().await.unwrap();
    assert_eq!(n, KEYS);
    n as f64 / started.elapsed().as_secs_f64()
}

/// `kv_transfer::copy` (verification timed separately); returns keys/s.
async fn copy(src: &dyn StorageBackend, dst: &dyn StorageBackend, p: &Partition) -> f64 {
    let mut options = CopyOptions::default();
    options.verify = false;
    options.batch_keys = BATCH;
    let started = Instant::now();
    let report = kv_transfer::copy(src, dst, &options, &mut ignore)
        .await
        .unwrap();
    let rate = report.keys as f64 / started.elapsed().as_secs_f64();
    assert_eq!(report.keys, KEYS);
    let (a, b) = (
        digest_partition(src, p, |_| {}).await.unwrap(),
        digest_partition(dst, p, |_| {}).await.unwrap(),
    );
    assert_eq!(a, b, "{} -> {}", src.name(), dst.name());
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1M keys through RocksDB and a redis-server: minutes; run with --ignored"]
async fn million_keys_file_rocks_redis_file() {
    let server = test_support::Server::start(&[]);
    let redis = |ns: &str| format!("{}?namespace={ns}&response_timeout=60s", server.url());
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let url = |scheme: &str, i: usize| format!("{scheme}://{}", dirs[i].path().display());
    let p = Partition::new("million").unwrap();

    let a = open(&url("file", 0)).await;
    a.create_partition(&p).await.unwrap();
    let value = bytes::Bytes::from(vec![b'v'; 100]);
    let started = Instant::now();
    for chunk in 0..KEYS / BATCH as u64 {
        let ops = (0..BATCH as u64)
            .map(|i| {
                Operation::put(
                    &p,
                    format!("key{:010}", chunk * BATCH as u64 + i),
                    value.clone(),
                )
            })
            .collect();
        a.batch(ops).await.unwrap();
    }
    a.flush().await.unwrap();
    println!(
        "load file: {:.0} keys/s",
        KEYS as f64 / started.elapsed().as_secs_f64()
    );

    let rocks = open(&url("rocks", 1)).await;
    let r = open(&redis("chain")).await;
    let b = open(&url("file", 2)).await;
    let file_rocks = copy(a.as_ref(), rocks.as_ref(), &p).await;
    let rocks_redis = copy(rocks.as_ref(), r.as_ref(), &p).await;
    let redis_file = copy(r.as_ref(), b.as_ref(), &p).await;
    assert_eq!(
        digest_partition(a.as_ref(), &p, |_| {}).await.unwrap(),
        digest_partition(b.as_ref(), &p, |_| {}).await.unwrap()
    );

    let r2 = open(&redis("direct")).await;
    let file_redis = copy(a.as_ref(), r2.as_ref(), &p).await;
    let floor_rocks = open(&url("rocks", 3)).await;
    let raw_file_rocks = raw_floor(a.as_ref(), floor_rocks.as_ref(), &p).await;
    let floor_redis = open(&redis("floor")).await;
    let raw_file_redis = raw_floor(a.as_ref(), floor_redis.as_ref(), &p).await;

    println!("| pair | kv_transfer::copy keys/s | raw floor keys/s | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| file -> rocks | {file_rocks:.0} | {raw_file_rocks:.0} | {:.2} |",
        file_rocks / raw_file_rocks
    );
    println!(
        "| file -> redis | {file_redis:.0} | {raw_file_redis:.0} | {:.2} |",
        file_redis / raw_file_redis
    );
    println!("| rocks -> redis | {rocks_redis:.0} | | |");
    println!("| redis -> file | {redis_file:.0} | | |");
    for s in [a, rocks, r, b, r2, floor_rocks, floor_redis] {
        s.close().await.unwrap();
    }
}
