//! Does a cold point read block the async executor? backend-file's gets of values whose
//! pages are not in the OS page cache, on a runtime with ONE worker thread, beside a
//! heartbeat task that yields in a loop: every gap between two heartbeats is time the
//! worker spent on something else. A get that waits for the disk on the worker shows up
//! as gaps of a disk read's length (tens of microseconds to milliseconds).
//!
//! ```text
//! cargo run --release -p benches --bin cold_get -- [--keys N]
//! ```
//!
//! The store is written (1 KiB values), closed, reopened with the value cache off, and
//! every data file's pages are dropped with `posix_fadvise(DONTNEED)` before the timed
//! reads. Prints the get rate and the heartbeat gaps (median, p99, max).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backend_api::{Operation, Partition, StorageBackend};
use backend_file::{FileBackend, FileConfig};
use bytes::Bytes;

const TASKS: usize = 16;

fn key(i: u64) -> Bytes {
    Bytes::from(format!(
        "k-{:014}",
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000_007
    ))
}

/// Drops the page cache of every data file in `dir`.
fn evict(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).expect("store dir").flatten() {
        let f = std::fs::File::open(e.path()).expect("open data file");
        rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or_default()
}

fn main() {
    let mut n = 200_000u64;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--keys") {
        n = args[i + 1].parse().expect("--keys N");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let tmp = tempfile::tempdir_in("/root/.cache").expect("tmp dir");
    let p = Partition::new("cold").expect("partition");
    rt.block_on(async {
        let s = FileBackend::open(FileConfig::new(tmp.path()))
            .await
            .expect("open");
        s.create_partition(&p).await.expect("create");
        let value = Bytes::from(vec![7u8; 1024]);
        for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
            let ops = chunk
                .iter()
                .map(|&i| Operation::put(&p, key(i), value.clone()))
                .collect();
            s.batch(ops).await.expect("batch");
        }
        s.close().await.expect("close");
    });
    let s: Arc<dyn StorageBackend> = Arc::new(
        rt.block_on(FileBackend::open(
            FileConfig::new(tmp.path()).value_cache(0),
        ))
        .expect("reopen"),
    );
    evict(tmp.path());
    let done = Arc::new(AtomicBool::new(false));
    let (gaps, gets, took) = rt.block_on(async {
        let d = done.clone();
        let beat = tokio::spawn(async move {
            let mut gaps = Vec::new();
            let mut last = Instant::now();
            while !d.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
                let now = Instant::now();
                gaps.push(now - last);
                last = now;
            }
            gaps
        });
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..TASKS as u64 {
            let s = s.clone();
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = 0u64;
                let mut i = t;
                while i < n.min(40_000) {
                    let v = s.get(&p, &key(i * 7 % n)).await.expect("get");
                    got += u64::from(v.is_some());
                    i += TASKS as u64;
                }
                got
            }));
        }
        let mut gets = 0;
        for t in tasks {
            gets += t.await.expect("task");
        }
        let took = start.elapsed();
        done.store(true, Ordering::Relaxed);
        (beat.await.expect("heartbeat"), gets, took)
    });
    let mut gaps = gaps;
    gaps.sort();
    println!(
        "{gets} cold gets of 1 KiB values ({n} keys) on 1 worker: {:.0} gets/s; heartbeat gaps \
         median {:?}, p99 {:?}, max {:?} over {} beats",
        gets as f64 / took.as_secs_f64(),
        pct(&gaps, 0.5),
        pct(&gaps, 0.99),
        gaps.last().copied().unwrap_or_default(),
        gaps.len()
    );
    rt.block_on(s.close()).expect("close");
}
