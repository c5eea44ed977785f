//! backend-file against raw baselines doing the same I/O by hand, 16-byte keys and
//! 100-byte values, page cache warm:
//!
//! - `file_put`: put with `SyncPolicy::Never` vs a raw append (CRC + `pwrite` of the
//!   record + ordered keydir insert), and vs the same append into a user-space buffer;
//! - `file_get`: get vs a raw keydir lookup + `pread` + CRC check;
//! - `file_durable_put`: put with `SyncPolicy::Always` vs a raw write + `fdatasync` loop;
//! - `file_group_commit`: durable puts from 1 and from 16 concurrent writers (time per
//!   put; the ratio is the group-commit speed-up);
//! - `file_open`: open of a store of 1M keys from its hint files;
//! - `file_merge`: merge of a store of 200k keys overwritten twice (MB/s of input);
//! - `file_ab`, `file_ab_durable`: the put, get and durable-put pairs again, raw and
//!   backend timed back to back inside every sample; the median per-sample ratio is
//!   printed (`file_ab: ...`). On a shared, noisy machine these ratios are the ones to
//!   quote: separate groups run seconds apart under different load.

use std::collections::BTreeMap;
use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_api::{Bytes, Partition, StorageBackend};
use backend_file::format::{RECORD_HEADER_LEN, record_crc_ok};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use benches::{Target, Workload, bench_raw};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use parking_lot::RwLock;

const KEYS: usize = 10_000;

fn multi_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn config(dir: &std::path::Path, sync: SyncPolicy) -> FileConfig {
    FileConfig::new(dir).sync_policy(sync).merge_trigger(None)
}

/// A new store in `dir` with `sync`, holding the empty partition `p`.
fn open_empty(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    sync: SyncPolicy,
    p: &Partition,
) -> FileBackend {
    rt.block_on(async {
        let s = FileBackend::open(config(dir, sync)).await.unwrap();
        s.create_partition(p).await.unwrap();
        s
    })
}

/// A group of slow operations: `samples` samples, flat sampling, measured for `measure`
/// after a one-second warm-up.
fn slow_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    samples: usize,
    measure: Duration,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(samples)
        .measurement_time(measure)
        .warm_up_time(Duration::from_secs(1))
        .sampling_mode(SamplingMode::Flat);
    group
}

/// The record a raw append writes: backend-file's own put record (its encoder), alone
/// in `buf`.
fn encode(buf: &mut Vec<u8>, seq: u64, key: &[u8], value: &[u8]) {
    buf.clear();
    benches::raw_log::encode(buf, seq, key, value);
}

/// A raw log: one file, an ordered keydir behind a lock.
struct RawLog {
    file: File,
    offset: u64,
    seq: u64,
    buf: Vec<u8>,
    keydir: RwLock<BTreeMap<Bytes, (u64, u32)>>,
}

impl RawLog {
    fn new(dir: &std::path::Path) -> RawLog {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("raw.log"))
            .expect("raw file");
        RawLog {
            file,
            offset: 0,
            seq: 0,
            buf: Vec::with_capacity(256),
            keydir: RwLock::new(BTreeMap::new()),
        }
    }

    fn append(&mut self, key: &[u8], value: &[u8]) -> u64 {
        self.seq += 1;
        encode(&mut self.buf, self.seq, key, value);
        let at = self.offset;
        self.file.write_all_at(&self.buf, at).expect("pwrite");
        self.offset += self.buf.len() as u64;
        self.keydir
            .write()
            .insert(Bytes::copy_from_slice(key), (at, self.buf.len() as u32));
        at
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let (at, len) = *self.keydir.read().get(key)?;
        let mut rec = vec![0u8; len as usize];
        self.file.read_exact_at(&mut rec, at).expect("pread");
        assert!(record_crc_ok(&rec));
        Some(rec[RECORD_HEADER_LEN + key.len()..].to_vec())
    }
}

/// A backend-file store (`SyncPolicy::Never`) and a raw log, both holding the workload.
struct Loaded {
    workload: Workload,
    rt: tokio::runtime::Runtime,
    p: Partition,
    store: FileBackend,
    raw: RawLog,
    /// The store's and the raw log's directories, removed on drop.
    dirs: [tempfile::TempDir; 2],
}

impl Loaded {
    fn new() -> Self {
        let workload = Workload::new(KEYS);
        let rt = multi_runtime();
        let p = Partition::new("bench").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let open = FileBackend::open(config(dir.path(), SyncPolicy::Never));
        let store = benches::open_and_load(&rt, open, &p, &workload);
        let raw_dir = tempfile::tempdir().unwrap();
        let mut raw = RawLog::new(raw_dir.path());
        for (k, v) in workload.pairs() {
            raw.append(k, v);
        }
        Loaded {
            workload,
            rt,
            p,
            store,
            raw,
            dirs: [dir, raw_dir],
        }
    }
}

fn file_put_and_get(c: &mut Criterion) {
    let Loaded {
        workload,
        rt,
        p,
        store,
        mut raw,
        dirs,
    } = Loaded::new();
    let target = Target::new(&rt, &store, &p, &workload);

    let mut group = c.benchmark_group("file_put");
    bench_raw(&mut group, "raw_append_pwrite", &workload, |key| {
        raw.append(key, workload.value())
    });
    {
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            File::create(dirs[1].path().join("buffered.log")).unwrap(),
        );
        let mut keydir = BTreeMap::new();
        let mut buf = Vec::new();
        let mut offset = 0u64;
        let mut i = 0;
        group.bench_function("raw_append_userspace_buffer", |b| {
            b.iter(|| {
                i += 1;
                let key = workload.random_key(i);
                encode(&mut buf, i as u64, key, workload.value());
                out.write_all(&buf).unwrap();
                keydir.insert(Bytes::copy_from_slice(key), (offset, buf.len() as u32));
                offset += buf.len() as u64;
            })
        });
    }
    target.bench_put(&mut group, "file_put_never");
    group.finish();

    let mut group = c.benchmark_group("file_get");
    bench_raw(&mut group, "raw_keydir_pread_crc", &workload, |key| {
        black_box(raw.get(key).unwrap())
    });
    target.bench_get(&mut group, "file_get");
    group.finish();
    rt.block_on(store.close()).unwrap();
}

fn durable(c: &mut Criterion) {
    let workload = Workload::new(KEYS);
    let rt = multi_runtime();
    let p = Partition::new("bench").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_empty(&rt, dir.path(), SyncPolicy::Always, &p));
    let raw_dir = tempfile::tempdir().unwrap();
    let mut raw = RawLog::new(raw_dir.path());

    let mut group = slow_group(c, "file_durable_put", 10, Duration::from_secs(5));
    bench_raw(&mut group, "raw_write_fdatasync", &workload, |key| {
        raw.append(key, workload.value());
        raw.file.sync_data().unwrap();
    });
    let target = Target::new(&rt, &*store, &p, &workload);
    target.bench_put(&mut group, "file_put_always");
    group.finish();

    // Time per durable put with N concurrent writers.
    let mut group = slow_group(c, "file_group_commit", 10, Duration::from_secs(8));
    for writers in [1usize, 16] {
        group.bench_function(format!("{writers}_writers"), |b| {
            b.iter_custom(|iters| {
                let per_writer = (iters as usize).div_ceil(writers);
                let total = per_writer * writers;
                let start = Instant::now();
                rt.block_on(async {
                    let tasks: Vec<_> = (0..writers)
                        .map(|w| {
                            let store = store.clone();
                            let p = p.clone();
                            tokio::spawn(async move {
                                let workload = Workload::new(1_000);
                                for n in 0..per_writer {
                                    store
                                        .put(
                                            &p,
                                            workload.random_key(w * 7919 + n),
                                            workload.value(),
                                        )
                                        .await
                                        .unwrap();
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                });
                // Scale to the iterations criterion asked for.
                start.elapsed().mul_f64(iters as f64 / total as f64)
            })
        });
    }
    group.finish();
    rt.block_on(store.close()).unwrap();
}

fn open_and_merge(c: &mut Criterion) {
    let rt = multi_runtime();
    let p = Partition::new("bench").unwrap();
    // Stores are built on first use, so a filter that skips these benches skips the
    // (long) loads too.
    let mut hinted: Option<tempfile::TempDir> = None;
    let mut group = slow_group(c, "file_open", 10, Duration::from_secs(10));
    group.bench_function("open_1m_keys_from_hints", |b| {
        let dir = hinted.get_or_insert_with(|| {
            let dir = tempfile::tempdir().unwrap();
            let workload = Workload::new(1_000_000);
            let open = FileBackend::open(config(dir.path(), SyncPolicy::Never));
            let s = benches::open_and_load(&rt, open, &p, &workload);
            rt.block_on(async {
                s.merge().await.unwrap();
                s.close().await.unwrap();
            });
            dir
        });
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let s = rt
                    .block_on(FileBackend::open(config(dir.path(), SyncPolicy::Never)))
                    .unwrap();
                total += start.elapsed();
                assert_eq!(s.recovery_report().files_scanned, 0);
                rt.block_on(s.close()).unwrap();
            }
            total
        })
    });
    group.finish();
    drop(hinted);

    // Merge: 200k keys written three times; each iteration rewrites once more, then merges.
    let workload = Workload::new(200_000);
    let mut merged: Option<(tempfile::TempDir, FileBackend)> = None;
    let mut group = slow_group(c, "file_merge", 10, Duration::from_secs(10));
    let mut mbps = Vec::new();
    group.bench_function("merge_200k_live_of_600k", |b| {
        let (_, store) = merged.get_or_insert_with(|| {
            let dir = tempfile::tempdir().unwrap();
            let s = rt.block_on(async {
                let s = FileBackend::open(config(dir.path(), SyncPolicy::Never))
                    .await
                    .unwrap();
                for _ in 0..3 {
                    benches::load(&s, &p, &workload).await.unwrap();
                }
                s
            });
            (dir, s)
        });
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(async {
                    for _ in 0..2 {
                        benches::load(store, &p, &workload).await.unwrap();
                    }
                });
                let start = Instant::now();
                let stats = rt.block_on(store.merge()).unwrap();
                let took = start.elapsed();
                total += took;
                mbps.push(stats.bytes_in as f64 / took.as_secs_f64() / 1e6);
            }
            total
        })
    });
    group.finish();
    mbps.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if let Some(m) = mbps.get(mbps.len() / 2) {
        eprintln!(
            "file_merge: median {m:.0} MB/s of input over {} merges",
            mbps.len()
        );
    }
    if let Some((_, store)) = merged {
        rt.block_on(store.close()).unwrap();
    }
}

/// Median of the per-sample ratios an A/B bench collected.
fn median_ratio(mut ratios: Vec<f64>) -> Option<f64> {
    ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ratios.get(ratios.len() / 2).copied()
}

/// One A/B sample: `iters` calls of `raw` and `iters` awaited calls of `backend` (in
/// one `block_on` on `rt`) back to back, the raw ones first on even samples and last on
/// odd ones (so neither side always follows the other's I/O). Records backend / raw and
/// returns the backend's time.
fn ab_sample<F: Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    sample: &mut u64,
    iters: u64,
    ratios: &mut Vec<f64>,
    mut raw: impl FnMut(),
    mut backend: impl FnMut() -> F,
) -> Duration {
    let mut time_raw = || {
        let start = Instant::now();
        for _ in 0..iters {
            raw();
        }
        start.elapsed()
    };
    let mut time_backend = || {
        let start = Instant::now();
        rt.block_on(async {
            for _ in 0..iters {
                backend().await;
            }
        });
        start.elapsed()
    };
    *sample += 1;
    let (r, b) = if sample.is_multiple_of(2) {
        let r = time_raw();
        (r, time_backend())
    } else {
        let b = time_backend();
        (time_raw(), b)
    };
    ratios.push(b.as_secs_f64() / r.as_secs_f64());
    b
}

/// Same-run A/B pairs: every sample times `iters` raw operations and `iters` backend
/// operations back to back (alternating which goes first), so the load of the shared
/// machine hits both alike. Criterion reports the backend's time; the median of the
/// per-sample ratios (backend / raw) is printed at the end.
fn interleaved(c: &mut Criterion) {
    let Loaded {
        workload,
        rt,
        p,
        store,
        mut raw,
        dirs: _dirs,
    } = Loaded::new();
    let (w, p) = (&workload, &p);
    let mut sample = 0;
    let (mut i, mut j) = (0, 0);
    let mut group = c.benchmark_group("file_ab");
    let mut put_ratios = Vec::new();
    group.bench_function("put_never_vs_raw_append", |b| {
        b.iter_custom(|iters| {
            ab_sample(
                &rt,
                &mut sample,
                iters,
                &mut put_ratios,
                || {
                    i += 1;
                    black_box(raw.append(w.random_key(i), w.value()));
                },
                || {
                    j += 1;
                    let store = &store;
                    async move { store.put(p, w.random_key(j), w.value()).await.unwrap() }
                },
            )
        })
    });
    let mut get_ratios = Vec::new();
    group.bench_function("get_vs_raw_pread", |b| {
        b.iter_custom(|iters| {
            ab_sample(
                &rt,
                &mut sample,
                iters,
                &mut get_ratios,
                || {
                    i += 1;
                    black_box(raw.get(w.random_key(i)).unwrap());
                },
                || {
                    j += 1;
                    let store = &store;
                    async move {
                        black_box(store.get(p, w.random_key(j)).await.unwrap());
                    }
                },
            )
        })
    });
    group.finish();
    rt.block_on(store.close()).unwrap();

    let durable_dir = tempfile::tempdir().unwrap();
    let durable = open_empty(&rt, durable_dir.path(), SyncPolicy::Always, p);
    let raw_dir = tempfile::tempdir().unwrap();
    let mut raw = RawLog::new(raw_dir.path());
    let mut group = slow_group(c, "file_ab_durable", 20, Duration::from_secs(6));
    let mut durable_ratios = Vec::new();
    group.bench_function("put_always_vs_raw_fdatasync", |b| {
        b.iter_custom(|iters| {
            ab_sample(
                &rt,
                &mut sample,
                iters,
                &mut durable_ratios,
                || {
                    i += 1;
                    raw.append(w.random_key(i), w.value());
                    raw.file.sync_data().unwrap();
                },
                || {
                    j += 1;
                    let durable = &durable;
                    async move { durable.put(p, w.random_key(j), w.value()).await.unwrap() }
                },
            )
        })
    });
    group.finish();
    rt.block_on(durable.close()).unwrap();
    for (what, ratios) in [
        ("put (Never) / raw append", put_ratios),
        ("get / raw keydir+pread+CRC", get_ratios),
        ("durable put (Always) / raw write+fdatasync", durable_ratios),
    ] {
        let n = ratios.len();
        if let Some(m) = median_ratio(ratios) {
            eprintln!("file_ab: {what}: median time ratio {m:.2} over {n} samples");
        }
    }
}

criterion_group!(
    benches,
    file_put_and_get,
    interleaved,
    durable,
    open_and_merge
);
criterion_main!(benches);
