//! backend-redis through the `StorageBackend` trait against the raw `redis` crate doing
//! the same work on the same server in the same run: GET and SET one at a time, a batch
//! of 16 puts (raw: a pipeline of 16 SETs), an MGET of 16 keys. 16-byte keys, 100-byte
//! values. Then batch throughput against `redis-benchmark -c 1 -P 16 -d 100 -t set`
//! on the same server.
//!
//! The bench starts its own `redis-server` (from PATH, free loopback port, persistence
//! off) unless `REDIS_BENCH_URL` names one; it kills the server when it ends.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_api::{Bytes, Operation, Partition, StorageBackend};
use backend_redis::{RedisBackend, RedisConfig};
use criterion::{Criterion, Throughput};
use redis::aio::MultiplexedConnection;

const KEYS: usize = 10_000;
const GROUP: usize = 16;
const VALUE_LEN: usize = 100;

/// Starts redis-server in the background and kills it when this process is gone.
const WATCHDOG: &str = r#"
parent=$1; shift
redis-server "$@" >/dev/null 2>&1 &
r=$!
echo "$r"
while kill -0 "$parent" 2>/dev/null && kill -0 "$r" 2>/dev/null; do sleep 0.2; done
kill -9 "$r" 2>/dev/null
exit 0
"#;

struct Server {
    host: String,
    port: u16,
    url: String,
    owned: Option<(u32, Child)>,
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
                owned: None,
            };
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("probe a free port")
                .port();
            let mut child = Command::new("sh")
                .args(["-c", WATCHDOG, "sh", &std::process::id().to_string()])
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                ])
                .args([
                    "--appendonly",
                    "no",
                    "--dir",
                    &std::env::temp_dir().to_string_lossy(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "redis-server is needed: apt-get install redis-server, or set REDIS_BENCH_URL",
                );
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("redis-server pid");
            let pid: u32 = line.trim().parse().expect("redis-server pid");
            let url = format!("redis://127.0.0.1:{port}/0");
            let client = redis::Client::open(url.as_str()).expect("url");
            for _ in 0..250 {
                if client.get_connection().is_ok() {
                    return Server {
                        host: "127.0.0.1".into(),
                        port,
                        url,
                        owned: Some((pid, child)),
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start (is it installed? apt-get install redis-server)");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((pid, mut child)) = self.owned.take() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let _ = child.wait();
        }
    }
}

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key{:013}", i % KEYS))
}

fn raw_key(i: usize) -> Vec<u8> {
    let mut k = b"raw:".to_vec();
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

fn setup(server: &Server) -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let partition = Partition::new("bench").expect("name");
    let value = Bytes::from(vec![b'v'; VALUE_LEN]);
    let (backend, raw) = rt.block_on(async {
        let backend = RedisBackend::open(RedisConfig::new(&server.url).namespace("bench"))
            .await
            .expect("open backend-redis");
        backend
            .create_partition(&partition)
            .await
            .expect("partition");
        let client = redis::Client::open(server.url.as_str()).expect("url");
        let mut raw = client
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection");
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
            let ops = chunk
                .iter()
                .map(|&i| Operation::put(&partition, key(i), value.clone()))
                .collect();
            backend.batch(ops).await.expect("load backend");
            let mut pipe = redis::pipe();
            for &i in chunk {
                pipe.set(raw_key(i), &value[..]).ignore();
            }
            pipe.query_async::<()>(&mut raw).await.expect("load raw");
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
            async move {
                let v: Option<Bytes> = redis::cmd("GET")
                    .arg(k)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                black_box(v)
            }
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
            async move {
                redis::cmd("SET")
                    .arg(k)
                    .arg(&v[..])
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap()
            }
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
            let mut pipe = redis::pipe();
            for j in 0..GROUP {
                pipe.set(raw_key(i + j), &s.value[..]).ignore();
            }
            let mut conn = s.raw.clone();
            async move { pipe.query_async::<()>(&mut conn).await.unwrap() }
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
            async move {
                let v: Vec<Option<Bytes>> = redis::cmd("MGET")
                    .arg(keys)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                black_box(v)
            }
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

/// Puts per second through `batch` of 16, one batch at a time, for `secs`.
fn batch_throughput(s: &Setup, secs: u64) -> f64 {
    s.rt.block_on(async {
        let started = Instant::now();
        let mut batches = 0u64;
        while started.elapsed() < Duration::from_secs(secs) {
            s.backend
                .batch(batch_ops(s, batches as usize * 16))
                .await
                .unwrap();
            batches += 1;
        }
        (batches * GROUP as u64) as f64 / started.elapsed().as_secs_f64()
    })
}

/// SETs per second of `redis-benchmark -c 1 -P 16 -d 100 -t set`, if it is installed.
fn redis_benchmark(server: &Server) -> Option<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", &server.host, "-p", &server.port.to_string()])
        .args([
            "-c", "1", "-P", "16", "-d", "100", "-n", "400000", "-r", "10000", "-t", "set", "-q",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "SET: 123456.79 requests per second, p50=..." (after carriage-return progress lines)
    let line = text.rsplit('\r').next().unwrap_or(&text);
    let line = line.lines().find(|l| l.contains("SET:")).unwrap_or(line);
    line.split_whitespace().nth(1)?.parse().ok()
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
        let ours = batch_throughput(&setup, 3);
        match redis_benchmark(&server) {
            Some(theirs) => println!(
                "batch16 throughput: backend-redis {ours:.0} puts/s, redis-benchmark -c 1 -P 16 {theirs:.0} SET/s, ratio {:.2}",
                ours / theirs
            ),
            None => println!(
                "batch16 throughput: backend-redis {ours:.0} puts/s (redis-benchmark not found)"
            ),
        }
    }
    drop(setup);
    drop(server);
}
