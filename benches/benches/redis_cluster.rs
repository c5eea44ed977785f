//! backend-redis on a local Redis Cluster (3 masters, 3 replicas, started by
//! `test_support::cluster`) against the raw `redis` cluster client doing the same get
//! and put in the same slot, and against backend-redis on one server, all in the same
//! run: GET and SET one at a time, 16-byte keys, 100-byte values.
//! `cluster_put/raw_indexed` is the floor of what a put must do (marker check, SET,
//! ZADD, SPUBLISH, pipelined in the partition's slot). Goal: the adapter within 1.15x of
//! the raw client on get and put.
//!
//! Skips (with the reason) when `redis-server`/`redis-cli` are missing or the cluster
//! does not form. Every server it starts is killed when it ends.

use std::hint::black_box;
use std::sync::Arc;

use backend_api::{Bytes, Operation, Partition, StorageBackend};
use backend_redis::{RedisBackend, RedisConfig};
use benches::raw_redis;
use criterion::Criterion;
use test_support::cluster::Cluster;

const KEYS: usize = 10_000;
const VALUE_LEN: usize = 100;
/// Paired rounds after the criterion groups, and calls per side per round.
const ROUNDS: usize = 15;
const CALLS: usize = 2000;
/// The raw keys' prefix, a hash tag: one slot, like the adapter's partition (also the
/// prefix of the index, marker and channel of [`raw_redis::indexed_put`]).
const RAW_TAG: &str = "raw:{bench}:";

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key{:013}", i % KEYS))
}

fn raw_key(i: usize) -> Vec<u8> {
    let mut k = RAW_TAG.as_bytes().to_vec();
    k.extend_from_slice(&key(i));
    k
}

/// A backend-redis handle with a loaded partition.
async fn backend(config: RedisConfig, value: &Bytes) -> (Arc<RedisBackend>, Partition) {
    let backend = RedisBackend::open(config.namespace("bench"))
        .await
        .expect("open backend-redis");
    let partition = Partition::new("bench").expect("name");
    backend
        .create_partition(&partition)
        .await
        .expect("partition");
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let ops = chunk
            .iter()
            .map(|&i| Operation::put(&partition, key(i), value.clone()))
            .collect();
        backend.batch(ops).await.expect("load backend");
    }
    (Arc::new(backend), partition)
}

fn main() {
    let cluster = match Cluster::try_start() {
        Ok(cluster) => cluster,
        Err(why) => {
            eprintln!("redis_cluster bench skipped: {why}");
            return;
        }
    };
    let single = match test_support::Server::try_start(&[]) {
        Ok(server) => server,
        Err(why) => {
            eprintln!("redis_cluster bench skipped: {why}");
            return;
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let value = Bytes::from(vec![b'v'; VALUE_LEN]);
    let (on_cluster, on_single, raw) = rt.block_on(async {
        let on_cluster = backend(RedisConfig::cluster(cluster.urls()), &value).await;
        let on_single = backend(RedisConfig::new(single.url()), &value).await;
        let mut raw = redis::cluster::ClusterClient::new(cluster.urls())
            .expect("cluster client")
            .get_async_connection()
            .await
            .expect("raw cluster connection");
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
            raw_redis::set_each(&mut raw, chunk.iter().map(|&i| raw_key(i)), &value).await;
        }
        (on_cluster, on_single, raw)
    });
    // Borrowed by the raw sides' futures.
    let value = &value;
    let mut c = Criterion::default().configure_from_args();
    let mut i = 0;

    let mut group = c.benchmark_group("cluster_get");
    group.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| {
            i += 7;
            let mut conn = raw.clone();
            let k = raw_key(i);
            async move { black_box(raw_redis::get(&mut conn, &k).await) }
        })
    });
    for (name, (store, p)) in [("adapter", &on_cluster), ("adapter_one_server", &on_single)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                i += 7;
                let k = key(i);
                async move { black_box(store.get(p, &k).await.unwrap()) }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("cluster_put");
    group.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| {
            i += 7;
            let mut conn = raw.clone();
            let k = raw_key(i);
            let v = value.clone();
            async move { raw_redis::set(&mut conn, &k, &v).await }
        })
    });
    group.bench_function("raw_indexed", |b| {
        b.to_async(&rt).iter(|| {
            i += 7;
            let mut conn = raw.clone();
            let k = raw_key(i);
            async move { raw_redis::indexed_put(&mut conn, RAW_TAG, true, &k, value).await }
        })
    });
    for (name, (store, p)) in [("adapter", &on_cluster), ("adapter_one_server", &on_single)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                i += 7;
                let k = key(i);
                let v = value.clone();
                async move { store.put(p, &k, &v).await.unwrap() }
            })
        });
    }
    group.finish();

    c.final_summary();
    if !std::env::args().any(|a| a == "--bench") {
        // Test mode (`cargo test --benches`): each group ran once; no paired rounds.
        return;
    }

    // Paired rounds: on a shared machine whose load drifts, each round times the two
    // sides back to back (order alternating) and the ratio is the median of the
    // rounds' ratios.
    rt.block_on(async {
        let mut n = 0usize;
        let raw_get = |n: usize| {
            let mut conn = raw.clone();
            async move {
                raw_redis::get(&mut conn, &raw_key(n)).await;
            }
        };
        let raw_set = |n: usize| {
            let mut conn = raw.clone();
            let v = value.clone();
            async move { raw_redis::set(&mut conn, &raw_key(n), &v).await }
        };
        let raw_indexed = |n: usize| {
            let mut conn = raw.clone();
            let k = raw_key(n);
            async move {
                raw_redis::indexed_put(&mut conn, RAW_TAG, true, &k, value).await;
            }
        };
        let (cluster_store, cluster_p) = &on_cluster;
        let (single_store, single_p) = &on_single;
        let get = |store: &Arc<RedisBackend>, p: &Partition, n: usize| {
            let (store, p) = (store.clone(), p.clone());
            async move {
                store.get(&p, &key(n)).await.unwrap();
            }
        };
        let put = |store: &Arc<RedisBackend>, p: &Partition, n: usize| {
            let (store, p, v) = (store.clone(), p.clone(), value.clone());
            async move { store.put(&p, &key(n), &v).await.unwrap() }
        };
        let mut rounds: Vec<[f64; 7]> = Vec::new();
        for round in 0..ROUNDS {
            let mut t = [0f64; 7];
            let order: [usize; 7] = if round % 2 == 0 {
                [0, 1, 2, 3, 4, 5, 6]
            } else {
                [6, 5, 4, 3, 2, 1, 0]
            };
            for side in order {
                let started = std::time::Instant::now();
                for _ in 0..CALLS {
                    n += 7;
                    match side {
                        0 => raw_get(n).await,
                        1 => get(cluster_store, cluster_p, n).await,
                        2 => get(single_store, single_p, n).await,
                        3 => raw_set(n).await,
                        4 => put(cluster_store, cluster_p, n).await,
                        5 => put(single_store, single_p, n).await,
                        _ => raw_indexed(n).await,
                    }
                }
                t[side] = started.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
            }
            rounds.push(t);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let col = |i: usize| median(rounds.iter().map(|r| r[i]).collect());
        let ratio = |a: usize, b: usize| median(rounds.iter().map(|r| r[a] / r[b]).collect());
        eprintln!(
            "paired ({ROUNDS} rounds of {CALLS} calls, median us/call): get raw {:.1}, \
             adapter {:.1}, adapter on one server {:.1}; put raw SET {:.1}, adapter {:.1}, \
             adapter on one server {:.1}, raw indexed put {:.1}",
            col(0),
            col(1),
            col(2),
            col(3),
            col(4),
            col(5),
            col(6)
        );
        eprintln!(
            "paired ratios (median of per-round ratios): get adapter/raw {:.2}x, \
             put adapter/raw SET {:.2}x, put adapter/raw indexed put {:.2}x, cluster/one \
             server: get {:.2}x, put {:.2}x",
            ratio(1, 0),
            ratio(4, 3),
            ratio(4, 6),
            ratio(1, 2),
            ratio(4, 5)
        );
    });
    drop(rt);
    drop(cluster);
    drop(single);
}
