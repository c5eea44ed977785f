//! The comparison's workloads, each one generic function over [`Subject`], written once
//! for every backend and raw engine. A workload is a criterion group; the subject name
//! is the function id; `Throughput::Elements` counts keys, so criterion's element rate
//! is operations (or keys, for multi-key calls) per second.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, SamplingMode, Throughput};

use crate::mix::{Requests, XorShift};
use crate::subject::{Spec, Subject};
use crate::table::{BATCH, MANY, RANGE, SCAN_LEN, workload};

/// Sizes of the data sets; the test mode uses tiny ones so `cargo test` stays fast.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Keys with 100 B values (gets, puts, scans, batches, get_many).
    pub small: usize,
    /// Keys with 1 KiB values (1 KiB gets/puts, YCSB).
    pub medium: usize,
    /// Keys with 64 KiB values.
    pub large: usize,
    /// Keys of the store the open workload recovers.
    pub open: usize,
}

impl Sizes {
    /// The real run: 10k / 10k / 1k keys; 1M for open.
    pub const FULL: Sizes = Sizes {
        small: 10_000,
        medium: 10_000,
        large: 1_000,
        open: 1_000_000,
    };
    /// Criterion's test mode: just enough for every workload to do its work once.
    pub const TEST: Sizes = Sizes {
        small: 1_200,
        medium: 100,
        large: 8,
        open: 2_000,
    };
}

/// Concurrent tasks of the contended and concurrent workloads.
pub const TASKS: usize = 16;

/// A 16-byte key `<set>-<13 digits>`, sorting like `i`.
pub fn key(set: u8, i: usize) -> Bytes {
    Bytes::from(format!("{}-{i:014}", set as char))
}

/// A deterministic value of `len` bytes.
pub fn value(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into()
}

/// Everything a workload needs besides its subject.
pub struct Ctx {
    /// The runtime every workload runs on (2 worker threads).
    pub rt: tokio::runtime::Runtime,
    /// Data set sizes.
    pub sizes: Sizes,
    /// Directory under which persistent subjects get their own directories.
    pub root: PathBuf,
    /// Redis server without persistence.
    pub redis_url: Option<String>,
    /// Redis server with `appendfsync always`, for durable writes.
    pub redis_durable_url: Option<String>,
    /// YCSB request sequences (A, B, C) over the medium set.
    pub ycsb: [Arc<Requests>; 3],
    /// Operations done per `(workload, subject)`: the test asserts every pair ran.
    pub done: parking_lot::Mutex<std::collections::BTreeMap<(String, String), u64>>,
    values: [Bytes; 3],
    dirs: AtomicU64,
}

impl Ctx {
    /// A context on a fresh 2-worker runtime.
    pub fn new(sizes: Sizes, root: PathBuf) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let n = sizes.medium;
        Ctx {
            rt,
            sizes,
            root,
            redis_url: None,
            redis_durable_url: None,
            ycsb: [
                Arc::new(Requests::new(n, 0.5, 1)),
                Arc::new(Requests::new(n, 0.05, 2)),
                Arc::new(Requests::new(n, 0.0, 3)),
            ],
            done: Default::default(),
            values: [value(100), value(1024), value(64 << 10)],
            dirs: AtomicU64::new(0),
        }
    }

    /// A spec for `name`: a new directory if it is persistent, the right redis server.
    pub fn spec(&self, name: &'static str, durable: bool) -> Spec {
        let persistent = matches!(
            name,
            "file" | "rocks" | "sled" | "raw_log" | "raw_rocks" | "raw_sled"
        );
        let dir = persistent.then(|| {
            let n = self.dirs.fetch_add(1, Ordering::Relaxed);
            let dir = self.root.join(format!("{name}-{n}"));
            std::fs::create_dir_all(&dir).expect("subject directory");
            dir
        });
        Spec {
            name,
            dir,
            durable,
            redis_url: if durable {
                self.redis_durable_url.clone()
            } else {
                self.redis_url.clone()
            },
        }
    }

    fn count(&self, workload: &str, subject: &str, ops: u64) {
        *self
            .done
            .lock()
            .entry((workload.to_owned(), subject.to_owned()))
            .or_default() += ops;
    }

    /// The 100 B, 1 KiB and 64 KiB values.
    pub fn value(&self, size: usize) -> &Bytes {
        match size {
            100 => &self.values[0],
            1024 => &self.values[1],
            _ => &self.values[2],
        }
    }
}

/// Opens a subject with the three data sets written: `s-*` (100 B), `m-*` (1 KiB),
/// `l-*` (64 KiB), and the CAS counter.
pub fn open_loaded<S: Subject>(ctx: &Ctx, name: &'static str) -> Arc<S> {
    let spec = ctx.spec(name, false);
    ctx.rt.block_on(async {
        let s = S::open(&spec).await;
        for (set, n, size) in [
            (b's', ctx.sizes.small, 100),
            (b'm', ctx.sizes.medium, 1024),
            (b'l', ctx.sizes.large, 64 << 10),
        ] {
            load(&s, set, n, ctx.value(size)).await;
        }
        Arc::new(s)
    })
}

/// Writes keys `0..n` of `set` with `value`, in batches of 1,000 (or 64 MiB).
async fn load<S: Subject>(s: &S, set: u8, n: usize, value: &Bytes) {
    let per_batch = (64 << 20) / value.len().max(1);
    let per_batch = per_batch.clamp(1, 1_000);
    let keys: Vec<usize> = (0..n).collect();
    for chunk in keys.chunks(per_batch) {
        let pairs: Vec<_> = chunk
            .iter()
            .map(|&i| (key(set, i), value.clone()))
            .collect();
        s.batch(&pairs).await;
    }
}

/// A key index of visit `i` over `n` keys: a fixed pseudo-random walk (uniform).
fn pick(i: usize, n: usize) -> usize {
    XorShift::new(i as u64 + 1).below(n)
}

/// Runs `workload` on `s` as the function `s.name()` of `group`. The group's
/// throughput is set here. Panics on a wrong answer (a value missing, a short scan, a
/// lost increment), so the test mode checks the workloads as well as running them.
pub fn run<S: Subject>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workload: &str,
    s: &Arc<S>,
    ctx: &Ctx,
) {
    let name = s.name();
    let rt = &ctx.rt;
    let sizes = ctx.sizes;
    let elements = workload_elements(workload);
    group.throughput(Throughput::Elements(elements as u64));
    let counted = AtomicU64::new(0);
    match workload {
        "get_100B" | "get_1KiB" | "get_64KiB" => {
            let (set, n, size) = match workload {
                "get_100B" => (b's', sizes.small, 100),
                "get_1KiB" => (b'm', sizes.medium, 1024),
                _ => (b'l', sizes.large, 64 << 10),
            };
            let keys: Vec<Bytes> = (0..n).map(|i| key(set, i)).collect();
            let mut i = 0;
            group.bench_function(name, |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let k = &keys[pick(i, n)];
                    let counted = &counted;
                    async move {
                        let v = s.get(k).await.expect("a loaded key is present");
                        if s.stores() {
                            assert_eq!(v.len(), size, "value of {k:?}");
                        }
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                })
            });
        }
        "get_missing" => {
            let mut i = 0;
            group.bench_function(name, |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let k = key(b'x', i);
                    let counted = &counted;
                    async move {
                        let v = s.get(&k).await;
                        assert!(v.is_none() || !s.stores(), "{k:?} was never written");
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                })
            });
        }
        "put_100B" | "put_1KiB" | "put_64KiB" => {
            let (set, n, size) = match workload {
                "put_100B" => (b's', sizes.small, 100),
                "put_1KiB" => (b'm', sizes.medium, 1024),
                _ => (b'l', sizes.large, 64 << 10),
            };
            let keys: Vec<Bytes> = (0..n).map(|i| key(set, i)).collect();
            let v = ctx.value(size);
            let mut i = 0;
            group.bench_function(name, |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let k = &keys[pick(i, n)];
                    let counted = &counted;
                    async move {
                        s.put(k, v).await;
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                })
            });
        }
        "get_many_16" => {
            let mut i = 0;
            group.bench_function(name, |b| {
                b.to_async(rt).iter(|| {
                    let keys: Vec<Bytes> = (0..MANY)
                        .map(|_| {
                            i += 1;
                            key(b's', pick(i, sizes.small))
                        })
                        .collect();
                    let counted = &counted;
                    async move {
                        let found = s.get_many(&keys).await;
                        assert!(found == MANY || !s.stores(), "{found} of {MANY} found");
                        counted.fetch_add(MANY as u64, Ordering::Relaxed);
                    }
                })
            });
        }
        "scan_1k_fwd" | "scan_1k_rev" => {
            let reverse = workload == "scan_1k_rev";
            let starts = sizes.small.saturating_sub(SCAN_LEN).max(1);
            let mut i = 0;
            group.bench_function(name, |b| {
                b.to_async(rt).iter(|| {
                    i += 1;
                    let j = pick(i, starts);
                    let (lo, hi) = (key(b's', j), key(b's', j + SCAN_LEN));
                    let counted = &counted;
                    async move {
                        let n = s.scan(&lo, &hi, SCAN_LEN, reverse).await;
                        assert_eq!(n, SCAN_LEN, "scan of [{lo:?}, {hi:?})");
                        counted.fetch_add(n as u64, Ordering::Relaxed);
                    }
                })
            });
        }
        "batch_100" => {
            let v = ctx.value(100);
            let mut i = 0;
            group.bench_function(name, |b| {
                b.to_async(rt).iter(|| {
                    let pairs: Vec<(Bytes, Bytes)> = (0..BATCH)
                        .map(|_| {
                            i += 1;
                            (key(b's', pick(i, sizes.small)), v.clone())
                        })
                        .collect();
                    let counted = &counted;
                    async move {
                        s.batch(&pairs).await;
                        counted.fetch_add(BATCH as u64, Ordering::Relaxed);
                    }
                })
            });
        }
        "cas_16" => {
            let counter = key(b'c', 0);
            rt.block_on(s.put(&counter, &0u64.to_le_bytes()));
            let total = Arc::new(AtomicU64::new(0));
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let counter = counter.clone();
                    let total = total.clone();
                    concurrent(rt, s, iters, TASKS, move |s, _task, ops| {
                        let (counter, total) = (counter.clone(), total.clone());
                        async move {
                            for _ in 0..ops {
                                increment(&*s, &counter).await;
                            }
                            total.fetch_add(ops as u64, Ordering::Relaxed);
                        }
                    })
                })
            });
            let want = total.load(Ordering::Relaxed);
            if s.stores() {
                let v = rt.block_on(s.get(&counter)).expect("counter");
                let got = u64::from_le_bytes(v[..8].try_into().expect("8-byte counter"));
                assert_eq!(got, want, "{name}: CAS lost increments");
            }
            counted.fetch_add(want, Ordering::Relaxed);
        }
        "txn_1" | "txn_16" => {
            let tasks = if workload.ends_with("_16") { TASKS } else { 1 };
            let set = if tasks == 1 { b'u' } else { b'v' };
            rt.block_on(async {
                for a in 0..ACCOUNTS {
                    s.put(&key(set, a), &BALANCE.to_le_bytes()).await;
                }
            });
            let base = Arc::new(AtomicU64::new(0));
            let ops = Arc::new(AtomicU64::new(0));
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let start = base.fetch_add(iters, Ordering::Relaxed);
                    let ops = ops.clone();
                    concurrent(rt, s, iters, tasks, move |s, task, n| {
                        let ops = ops.clone();
                        async move {
                            let seed = start + (task as u64) * 1_000_003;
                            for i in 0..n as u64 {
                                transfer(&*s, set, seed + i).await;
                            }
                            ops.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    })
                })
            });
            if s.stores() {
                let total: u64 = rt.block_on(async {
                    let mut total = 0;
                    for a in 0..ACCOUNTS {
                        total += balance(&s.get(&key(set, a)).await);
                    }
                    total
                });
                assert_eq!(
                    total,
                    BALANCE * ACCOUNTS as u64,
                    "{name}: transfers lost money"
                );
            }
            counted.fetch_add(ops.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        "range_delete_1k" => {
            let v = ctx.value(100).clone();
            let round = AtomicU64::new(0);
            group.sampling_mode(SamplingMode::Flat);
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        let r = round.fetch_add(1, Ordering::Relaxed) as usize;
                        let keys: Vec<(Bytes, Bytes)> = (0..RANGE)
                            .map(|i| (key(b'r', r * RANGE + i), v.clone()))
                            .collect();
                        let (lo, hi) = (key(b'r', r * RANGE), key(b'r', (r + 1) * RANGE));
                        rt.block_on(s.batch(&keys));
                        let started = Instant::now();
                        rt.block_on(s.delete_range(&lo, &hi));
                        took += started.elapsed();
                        if s.stores() {
                            let left = rt.block_on(s.scan(&lo, &hi, RANGE, false));
                            assert_eq!(left, 0, "{name}: range [{lo:?}, {hi:?}) not emptied");
                        }
                        counted.fetch_add(RANGE as u64, Ordering::Relaxed);
                    }
                    took
                })
            });
        }
        w if w.starts_with("ycsb_") => {
            let mix = match &w[5..6] {
                "a" => 0,
                "b" => 1,
                _ => 2,
            };
            let tasks = if w.ends_with("_16") { TASKS } else { 1 };
            let v = ctx.value(1024).clone();
            let base = Arc::new(AtomicU64::new(0));
            let ops = Arc::new(AtomicU64::new(0));
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let start = base.fetch_add(iters, Ordering::Relaxed) as usize;
                    let (v, ops) = (v.clone(), ops.clone());
                    let reqs = ctx.ycsb[mix].clone();
                    concurrent(rt, s, iters, tasks, move |s, task, n| {
                        let (v, ops, reqs) = (v.clone(), ops.clone(), reqs.clone());
                        async move {
                            let from = start + task * 7919;
                            for i in from..from + n {
                                let (k, update) = reqs.get(i);
                                let k = key(b'm', k);
                                if update {
                                    s.put(&k, &v).await;
                                } else {
                                    let got = s.get(&k).await;
                                    assert!(got.is_some(), "{k:?} is loaded");
                                }
                            }
                            ops.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    })
                })
            });
            counted.fetch_add(ops.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        "durable_put_1" | "durable_put_16" => {
            let writers = if workload.ends_with("_16") { TASKS } else { 1 };
            let spec = ctx.spec(name, true);
            let d: Arc<S> = Arc::new(rt.block_on(S::open(&spec)));
            let v = ctx.value(100).clone();
            let ops = Arc::new(AtomicU64::new(0));
            group.sampling_mode(SamplingMode::Flat);
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let (v, ops) = (v.clone(), ops.clone());
                    concurrent(rt, &d, iters, writers, move |s, task, n| {
                        let (v, ops) = (v.clone(), ops.clone());
                        async move {
                            for i in 0..n {
                                s.put(&key(b'd', task * 1_000_003 + i), &v).await;
                            }
                            ops.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    })
                })
            });
            rt.block_on(d.close());
            counted.fetch_add(ops.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        "open_1m" => {
            let spec = ctx.spec(name, false);
            rt.block_on(async {
                let store = S::open(&spec).await;
                load(&store, b's', sizes.open, ctx.value(100)).await;
                store.close().await;
            });
            let probe = key(b's', sizes.open / 2);
            group.sampling_mode(SamplingMode::Flat);
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let store = rt.block_on(S::open(&spec));
                        took += started.elapsed();
                        let v = rt.block_on(store.get(&probe));
                        assert_eq!(v.map(|v| v.len()), Some(100), "recovered {probe:?}");
                        rt.block_on(store.close());
                        drop(store);
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                    took
                })
            });
        }
        other => panic!("unknown workload {other:?}"),
    }
    ctx.count(workload, name, counted.load(Ordering::Relaxed));
}

/// Accounts of the transfer workloads, and each one's opening balance.
const ACCOUNTS: usize = 64;
const BALANCE: u64 = 1_000_000;

/// Elements one iteration of `id` counts.
fn workload_elements(id: &str) -> usize {
    workload(id).map_or(1, |w| w.elements)
}

fn balance(value: &Option<Bytes>) -> u64 {
    let v = value.as_ref().expect("an account is present");
    u64::from_le_bytes(v[..8].try_into().expect("8-byte balance"))
}

/// Moves one unit between two accounts of `set` picked by `seed`: reads both, then
/// writes both only if both still hold what was read; retries on conflict.
async fn transfer<S: Subject>(s: &S, set: u8, seed: u64) {
    let mut rng = XorShift::new(seed + 1);
    let from = rng.below(ACCOUNTS);
    let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
    let (from, to) = (key(set, from), key(set, to));
    loop {
        let (a, b) = (s.get(&from).await, s.get(&to).await);
        if !s.stores() {
            return;
        }
        let (x, y) = (balance(&a), balance(&b));
        let checks = [
            (from.clone(), a.clone().expect("present")),
            (to.clone(), b.clone().expect("present")),
        ];
        let writes = [
            (from.clone(), Bytes::copy_from_slice(&(x - 1).to_le_bytes())),
            (to.clone(), Bytes::copy_from_slice(&(y + 1).to_le_bytes())),
        ];
        if s.conditional_batch(&checks, &writes).await {
            return;
        }
    }
}

/// Adds one to the little-endian counter at `counter` with get + CAS, retrying on
/// conflict.
async fn increment<S: Subject>(s: &S, counter: &[u8]) {
    loop {
        let current = s.get(counter).await.expect("counter");
        let n = u64::from_le_bytes(current[..8].try_into().expect("8-byte counter"));
        if s.cas(counter, Some(&current), &(n + 1).to_le_bytes()).await {
            return;
        }
    }
}

/// Splits `iters` operations over `tasks` spawned tasks (`body(subject, task, ops)`)
/// and returns the elapsed time scaled to `iters`.
fn concurrent<S, F, Fut>(
    rt: &tokio::runtime::Runtime,
    s: &Arc<S>,
    iters: u64,
    tasks: usize,
    body: F,
) -> Duration
where
    S: Subject,
    F: Fn(Arc<S>, usize, usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let per_task = (iters as usize).div_ceil(tasks).max(1);
    let total = per_task * tasks;
    let started = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| tokio::spawn(body(s.clone(), t, per_task)))
            .collect();
        for h in handles {
            h.await.expect("workload task");
        }
    });
    started.elapsed().mul_f64(iters as f64 / total as f64)
}
