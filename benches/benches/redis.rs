//! backend-redis through the `StorageBackend` trait against the raw `redis` crate doing
//! the same work on the same server in the same run: GET and SET one at a time, a batch
//! of 16 puts (raw: a pipeline of 16 SETs), an MGET of 16 keys. `redis_put/raw_indexed`
//! is the floor of what a put must do (marker check, SET, ZADD, PUBLISH pipelined). 16-byte keys, 100-byte
//! values. Then batch throughput against `redis-benchmark -c 1 -P 16 -d 100 -t set`
//! on the same server.
//!
//! The bench starts its own `redis-server` (from PATH, free loopback port, persistence
//! off) unless `REDIS_BENCH_URL` names one; it kills the server when it ends.

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_api::{Bytes, Operation, Partition, StorageBackend};
use backend_redis::{RedisBackend, RedisConfig};
use benches::raw_redis;
use criterion::{Criterion, Throughput};
use redis::aio::MultiplexedConnection;

const KEYS: usize = 10_000;
const GROUP: usize = 16;
const VALUE_LEN: usize = 100;
/// The raw side's names: `raw:<key>`, and the index, marker and channel of an indexed put.
const RAW_NAMES: &str = "raw:";

/// The server the bench runs against: `REDIS_BENCH_URL`'s, or one started by the
/// workspace's launcher (test-support), killed when this drops.
struct Server {
    host: String,
    port: u16,
    url: String,
    _owned: Option<test_support::Server>,
}

impl Server {
    fn start() -> Server {
        if let Ok(url) = std::env::var("REDIS_BENCH_URL") {
            let info = redis::Client::open(url.as_str()).expect("REDIS_BENCH_URL");
            let addr = info.get_connection_info().addr().to_string();
            let (host, port) = addr.rsplit_once(':').expect("host:port");
            return Server {
                host: host.to_owned(),
                port: port.parse().expect("port"),
                url,
                _owned: None,
            };
        }
        let owned = test_support::Server::start(&[]);
        Server {
            host: "127.0.0.1".into(),
            port: owned.port,
            url: owned.url(),
            _owned: Some(owned),
        }
    }
}

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key{:013}", i % KEYS))
}

fn raw_key(i: usize) -> Vec<u8> {
    let mut k = RAW_NAMES.as_bytes().to_vec();
    k.extend_from_slice(&key(i));
    k
}

struct Setup {
    rt: tokio::runtime::Runtime,
    backend: Arc<RedisBackend>,
    raw: MultiplexedConnection,
    partition: Partition,
    value: Bytes,
}

/// A backend-redis handle on `server` with `partition` created, and a raw connection.
async fn connect(server: &Server, partition: &Partition) -> (RedisBackend, MultiplexedConnection) {
    let backend = RedisBackend::open(RedisConfig::new(&server.url).namespace("bench"))
        .await
        .expect("open backend-redis");
    backend
        .create_partition(partition)
        .await
        .expect("partition");
    let client = redis::Client::open(server.url.as_str()).expect("url");
    let raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    (backend, raw)
}

fn setup(server: &Server) -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let partition = Partition::new("bench").expect("name");
    let value = Bytes::from(vec![b'v'; VALUE_LEN]);
    let (backend, raw) = rt.block_on(async {
        let (backend, mut raw) = connect(server, &partition).await;
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
            let ops = chunk
                .iter()
                .map(|&i| Operation::put(&partition, key(i), value.clone()))
                .collect();
            backend.batch(ops).await.expect("load backend");
            raw_redis::set_each(&mut raw, chunk.iter().map(|&i| raw_key(i)), &value).await;
        }
        (Arc::new(backend), raw)
    });
    Setup {
        rt,
        backend,
        raw,
        partition,
        value,
    }
}

fn benches(c: &mut Criterion, s: &Setup) {
    let mut group = c.benchmark_group("redis_get");
    let mut i = 0;
    group.bench_function("raw", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let mut conn = s.raw.clone();
            let k = raw_key(i);
            async move { black_box(raw_redis::get(&mut conn, &k).await) }
        })
    });
    group.bench_function("adapter", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let k = key(i);
            async move { black_box(s.backend.get(&s.partition, &k).await.unwrap()) }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("redis_put");
    group.bench_function("raw", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let mut conn = s.raw.clone();
            let k = raw_key(i);
            let v = s.value.clone();
            async move { raw_redis::set(&mut conn, &k, &v).await }
        })
    });
    group.bench_function("raw_indexed", |b| {
        // The work a put must do, as one plain pipeline: EXISTS of the partition marker,
        // SET, ZADD to the index, PUBLISH of the event (one round trip, no script).
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let mut conn = s.raw.clone();
            let k = raw_key(i);
            async move { raw_redis::indexed_put(&mut conn, RAW_NAMES, false, &k, &s.value).await }
        })
    });
    group.bench_function("adapter", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let k = key(i);
            async move { s.backend.put(&s.partition, &k, &s.value).await.unwrap() }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("redis_batch16");
    group.throughput(Throughput::Elements(GROUP as u64));
    group.bench_function("raw_pipeline", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let keys = (0..GROUP).map(move |j| raw_key(i + j));
            let mut conn = s.raw.clone();
            async move { raw_redis::set_each(&mut conn, keys, &s.value).await }
        })
    });
    group.bench_function("adapter", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let ops = batch_ops(s, i);
            async move { s.backend.batch(ops).await.unwrap() }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("redis_mget16");
    group.throughput(Throughput::Elements(GROUP as u64));
    group.bench_function("raw", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let keys: Vec<Vec<u8>> = (0..GROUP).map(|j| raw_key(i + j)).collect();
            let mut conn = s.raw.clone();
            async move { black_box(raw_redis::mget(&mut conn, &keys).await) }
        })
    });
    group.bench_function("adapter", |b| {
        b.to_async(&s.rt).iter(|| {
            i += 7;
            let keys: Vec<Bytes> = (0..GROUP).map(|j| key(i + j)).collect();
            async move { black_box(s.backend.get_many(&s.partition, &keys).await.unwrap()) }
        })
    });
    group.finish();
}

fn batch_ops(s: &Setup, i: usize) -> Vec<Operation> {
    (0..GROUP)
        .map(|j| Operation::put(&s.partition, key(i + j), s.value.clone()))
        .collect()
}

/// One client setup for the throughput comparison: a runtime of `flavor`, a
/// backend-redis handle and a raw connection created on it.
struct Flavor {
    name: &'static str,
    rt: tokio::runtime::Runtime,
    backend: RedisBackend,
    raw: MultiplexedConnection,
    partition: Partition,
    value: Bytes,
}

impl Flavor {
    fn new(name: &'static str, server: &Server, rt: tokio::runtime::Runtime) -> Flavor {
        let partition = Partition::new("bench").expect("name");
        let (backend, raw) = rt.block_on(connect(server, &partition));
        Flavor {
            name,
            rt,
            backend,
            raw,
            partition,
            value: Bytes::from(vec![b'v'; VALUE_LEN]),
        }
    }

    /// Puts per second, one at a time, for `window`, of each client: raw SET, raw
    /// pipeline of EXISTS + SET + ZADD + PUBLISH, backend-redis `put`.
    fn single_round(&self, window: Duration) -> [f64; 3] {
        self.rt.block_on(async {
            let mut out = [0.0; 3];
            for (slot, out) in out.iter_mut().enumerate() {
                let started = Instant::now();
                let mut calls = 0usize;
                while started.elapsed() < window {
                    let k = raw_key(calls * 7);
                    let mut conn = self.raw.clone();
                    match slot {
                        0 => raw_redis::set(&mut conn, &k, &self.value).await,
                        1 => {
                            raw_redis::indexed_put(&mut conn, RAW_NAMES, false, &k, &self.value)
                                .await;
                        }
                        _ => self
                            .backend
                            .put(&self.partition, &key(calls * 7), &self.value)
                            .await
                            .unwrap(),
                    }
                    calls += 1;
                }
                *out = calls as f64 / started.elapsed().as_secs_f64();
            }
            out
        })
    }

    /// Puts per second, one call of 16 at a time, for `window`, of each client.
    fn round(&self, window: Duration) -> [f64; 3] {
        self.rt.block_on(async {
            let mut out = [0.0; 3];
            for (slot, out) in out.iter_mut().enumerate() {
                let started = Instant::now();
                let mut calls = 0usize;
                while started.elapsed() < window {
                    let base = calls * GROUP;
                    match slot {
                        0 => {
                            let keys = (0..GROUP).map(|j| raw_key(base + j));
                            let mut conn = self.raw.clone();
                            raw_redis::set_each(&mut conn, keys, &self.value).await;
                        }
                        1 => {
                            // What the batch script writes, as plain pipelined commands:
                            // 16 SETs, one ZADD of the 16 keys, one PUBLISH of ~1.8 KB.
                            let mut pipe = redis::pipe();
                            let mut zadd = redis::cmd("ZADD");
                            zadd.arg(format!("{RAW_NAMES}index"));
                            let mut event = Vec::new();
                            for j in 0..GROUP {
                                let k = raw_key(base + j);
                                pipe.set(&k, &self.value[..]).ignore();
                                zadd.arg(0).arg(&k);
                                event.extend_from_slice(&k);
                                event.extend_from_slice(&self.value);
                            }
                            pipe.add_command(zadd).ignore();
                            pipe.publish(format!("{RAW_NAMES}events"), event).ignore();
                            let mut conn = self.raw.clone();
                            pipe.query_async::<()>(&mut conn).await.unwrap();
                        }
                        _ => {
                            let ops = (0..GROUP)
                                .map(|j| {
                                    Operation::put(
                                        &self.partition,
                                        key(base + j),
                                        self.value.clone(),
                                    )
                                })
                                .collect();
                            self.backend.batch(ops).await.unwrap();
                        }
                    }
                    calls += 1;
                }
                *out = (calls * GROUP) as f64 / started.elapsed().as_secs_f64();
            }
            out
        })
    }
}

/// SETs per second of `redis-benchmark -c 1 -P 16 -d 100 -t set`, if it is installed.
fn redis_benchmark(server: &Server, requests: u32) -> Option<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", &server.host, "-p", &server.port.to_string()])
        .args([
            "-c", "1", "-P", "16", "-d", "100", "-r", "10000", "-t", "set", "-q",
        ])
        .args(["-n", &requests.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "SET: 123456.79 requests per second, p50=..." (after carriage-return progress lines)
    let line = text.rsplit('\r').next().unwrap_or(&text);
    let line = line.lines().find(|l| l.contains("SET:")).unwrap_or(line);
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Batch throughput against `redis-benchmark -c 1 -P 16` on the same server: five
/// interleaved rounds (each client for about a second per round, so load changes on a
/// shared machine hit all of them alike), ratios per round, medians reported. Run once
/// on a 2-worker multi-thread runtime (as the criterion groups) and once on a
/// current-thread runtime (one thread, like redis-benchmark itself).
fn throughput(server: &Server) {
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let flavors = [
        Flavor::new("multi-thread(2)", server, multi),
        Flavor::new("current-thread", server, current),
    ];
    let window = Duration::from_millis(800);
    for flavor in &flavors {
        let mut ratios: [Vec<f64>; 3] = Default::default();
        let mut rates: [Vec<f64>; 4] = Default::default();
        for _ in 0..5 {
            let ours = flavor.round(window);
            let Some(theirs) = redis_benchmark(server, 300_000) else {
                println!("batch16 throughput: redis-benchmark not found; skipped");
                return;
            };
            for c in 0..3 {
                ratios[c].push(ours[c] / theirs);
                rates[c].push(ours[c]);
            }
            rates[3].push(theirs);
        }
        let mut singles: [Vec<f64>; 2] = Default::default();
        for _ in 0..5 {
            let [set, indexed, put] = flavor.single_round(window);
            singles[0].push(set / put);
            singles[1].push(indexed / put);
        }
        let [vs_set, vs_indexed] = singles.map(median);
        println!(
            "single put [{}], median of 5 interleaved rounds, time per put relative to:\n  \
             raw crate SET {vs_set:.2}x\n  raw crate pipeline EXISTS + SET + ZADD + PUBLISH {vs_indexed:.2}x",
            flavor.name
        );
        let [raw, raw_index, adapter] = ratios.map(median);
        let [r_raw, r_raw_index, r_adapter, r_bench] = rates.map(median);
        println!(
            "batch16 throughput [{}], median of 5 interleaved rounds, puts/s and ratio to redis-benchmark -c 1 -P 16 SET:\n  \
             redis-benchmark {r_bench:.0}\n  raw crate, pipeline of 16 SET {r_raw:.0} ({raw:.2})\n  \
             raw crate, pipeline of 16 SET + ZADD + PUBLISH {r_raw_index:.0} ({raw_index:.2})\n  \
             backend-redis batch of 16 {r_adapter:.0} ({adapter:.2})",
            flavor.name
        );
    }
}

fn main() {
    let server = Server::start();
    let setup = setup(&server);
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion, &setup);
    criterion.final_summary();

    // Batch throughput against redis-benchmark on the same server (skipped in
    // `cargo test --benches`, which passes no `--bench`).
    if std::env::args().any(|a| a == "--bench") {
        throughput(&server);
    }
    drop(setup);
    drop(server);
}
