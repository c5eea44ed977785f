//! RAM and open time at scale, as a new user would try it: `N` random 16-byte keys with
//! 100-byte values written in batches of 1,000 through `Arc<dyn StorageBackend>` with the
//! backend's default configuration, then closed and reopened in a fresh process.
//!
//! ```text
//! cargo run --release -p benches --bin scale -- [file|sled|rocks ...] [--keys N[,N...]] \
//!     [--dir D] [--out FILE]
//! ```
//!
//! `--out` also writes the tables to `FILE` as a page (docs/scale.md is made with
//! `--keys 1000000,10000000 --out docs/scale.md`).
//!
//! For each backend it prints the process RSS before opening, after writing (store still
//! open) and after the reopen, the growth per key of each, the open time, and for a
//! backend whose `status()` reports `keydir_bytes` (backend-file), the keydir's own
//! bytes per key after writing and after the reopen. The write
//! and the reopen run in two child processes (this program re-runs itself), so the reopen
//! starts from a clean heap and the figures are the backend's alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use backend_api::{Operation, Partition, StorageBackend};
use backend_file::{FileBackend, FileConfig};
use backend_rocks::{RocksBackend, RocksConfig};
use backend_sled::{SledBackend, SledConfig};
use bytes::Bytes;

const BATCH: usize = 1_000;

/// Resident set size of this process in bytes (from `/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn open(name: &str, dir: &Path) -> Arc<dyn StorageBackend> {
    match name {
        "file" => Arc::new(
            FileBackend::open(FileConfig::new(dir))
                .await
                .expect("open file"),
        ),
        "sled" => Arc::new(
            SledBackend::open(SledConfig::new(dir))
                .await
                .expect("open sled"),
        ),
        "rocks" => Arc::new(
            RocksBackend::open(RocksConfig::new(dir))
                .await
                .expect("open rocks"),
        ),
        other => panic!("unknown backend {other} (file, sled, rocks)"),
    }
}

/// The `i`th random key (xorshift64*, fixed seed): 16 bytes.
fn keys(n: usize) -> impl Iterator<Item = Bytes> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n).map(move |_| {
        let mut k = [0u8; 16];
        for half in k.chunks_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            half.copy_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        Bytes::copy_from_slice(&k)
    })
}

/// The keydir's bytes per key `s` reports in its status, or -1 when it reports none.
async fn keydir_per_key(s: &dyn StorageBackend, n: usize) -> f64 {
    let status = s.status().await.expect("status");
    status
        .get("keydir_bytes")
        .and_then(|b| b.parse::<f64>().ok())
        .map_or(-1.0, |b| b / n as f64)
}

/// Child: writes `n` keys, prints `rss_before rss_after_write seconds keydir_per_key`.
async fn write(name: &str, dir: &Path, n: usize) {
    let before = rss();
    let p = Partition::new("scale").expect("partition name");
    let s = open(name, dir).await;
    s.create_partition(&p).await.expect("create partition");
    let value = Bytes::from(vec![0x5a; 100]);
    let start = Instant::now();
    let mut ops = Vec::with_capacity(BATCH);
    for k in keys(n) {
        ops.push(Operation::put(&p, k, value.clone()));
        if ops.len() == BATCH {
            s.batch(std::mem::take(&mut ops)).await.expect("batch");
        }
    }
    if !ops.is_empty() {
        s.batch(ops).await.expect("batch");
    }
    let took = start.elapsed().as_secs_f64();
    let after = rss();
    let keydir = keydir_per_key(&*s, n).await;
    s.close().await.expect("close");
    println!("{before} {after} {took} {keydir}");
}

/// Child: reopens, prints `rss_before rss_after_open open_seconds keydir_per_key`.
async fn reopen(name: &str, dir: &Path, n: usize) {
    let before = rss();
    let start = Instant::now();
    let s = open(name, dir).await;
    let took = start.elapsed().as_secs_f64();
    let after = rss();
    let p = Partition::new("scale").expect("partition name");
    let probe = keys(n).last().expect("at least one key");
    assert!(s.get(&p, &probe).await.expect("probe get").is_some());
    let keydir = keydir_per_key(&*s, n).await;
    s.close().await.expect("close");
    println!("{before} {after} {took} {keydir}");
}

fn child(mode: &str, name: &str, dir: &Path, n: usize) -> Vec<f64> {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--child", mode, name, "--keys", &n.to_string(), "--dir"])
        .arg(dir)
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "{mode} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|f| f.parse().expect("child figure"))
        .collect()
}

fn mb(b: f64) -> f64 {
    b / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut counts = vec![1_000_000usize];
    let mut root: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut names = Vec::new();
    let mut child_mode = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--keys" => {
                counts = it
                    .next()
                    .and_then(|v| v.split(',').map(|n| n.parse().ok()).collect())
                    .expect("--keys N[,N...]")
            }
            "--dir" => root = it.next().map(PathBuf::from),
            "--out" => out = it.next().map(PathBuf::from),
            "--child" => child_mode = it.next().cloned(),
            name => names.push(name.to_owned()),
        }
    }
    if let Some(mode) = child_mode {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = root.expect("--dir");
        match mode.as_str() {
            "write" => rt.block_on(write(&names[0], &dir, counts[0])),
            _ => rt.block_on(reopen(&names[0], &dir, counts[0])),
        }
        return;
    }
    if names.is_empty() {
        names = vec!["file".into(), "sled".into(), "rocks".into()];
    }
    let tmp = tempfile::tempdir_in(root.as_deref().unwrap_or(Path::new("/tmp"))).expect("tmp");
    let mut page = String::from(PAGE_HEAD);
    for &n in &counts {
        let table = measure(&names, tmp.path(), n);
        print!("{table}");
        page.push_str(&table);
    }
    if let Some(out) = out {
        std::fs::write(&out, page).expect("write --out");
    }
}

/// The top of the page `--out` writes.
const PAGE_HEAD: &str = "# RAM and open time at scale\n\n\
    Generated by `cargo run --release -p benches --bin scale -- --keys 1000000,10000000 \
    --out docs/scale.md` (see `benches/src/bin/scale.rs`): each backend with its default \
    configuration writes N random 16-byte keys with 100-byte values in batches of 1,000 \
    through `Arc<dyn StorageBackend>` in one process, then a fresh process reopens the \
    store. RSS is the process's resident set; growth per key is (RSS - RSS before \
    opening) / N. The keydir column is backend-file's own `keydir_bytes` status figure \
    per key. One run on a shared 2-core machine: times vary between runs, RSS little.\n\n";

/// Writes and reopens `n` keys on every backend of `names`; returns the markdown table.
fn measure(names: &[String], root: &Path, n: usize) -> String {
    let mut table = format!(
        "## {n} keys\n\n\
         | backend | RSS before (MB) | after writing | per key (B) | after reopen | per key (B) \
         | write s | open s | keydir B/key after writing / reopen |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for name in names {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("store dir");
        let w = child("write", name, &dir, n);
        let o = child("open", name, &dir, n);
        let per = |a: f64, b: f64| (a - b) / n as f64;
        let keydir = if w[3] < 0.0 {
            "-".to_owned()
        } else {
            format!("{:.1} / {:.1}", w[3], o[3])
        };
        table.push_str(&format!(
            "| {name} | {:.1} | {:.1} | {:.0} | {:.1} | {:.0} | {:.2} | {:.3} | {keydir} |\n",
            mb(w[0]),
            mb(w[1]),
            per(w[1], w[0]),
            mb(o[1]),
            per(o[1], o[0]),
            w[2],
            o[2]
        ));
        std::fs::remove_dir_all(&dir).expect("remove store");
    }
    table.push('\n');
    table
}
