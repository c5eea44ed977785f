//! The read cache in front of backend-redis: `get` of a 100-byte value from a hot set of
//! 1,000 keys that fits the cache, with and without `CacheLayer`, in the same run
//! against one real `redis-server` started on a free loopback port. The goal is at
//! least 20x the uncached rate: a hit never leaves the process.
//!
//! ```sh
//! cargo bench -p backend-layers --bench cache_redis -- --noplot
//! ```

use std::sync::Arc;

use backend_api::{Bytes, Operation, Partition, StorageBackend};
use backend_layers::{CacheLayer, Layer};
use backend_redis::{RedisBackend, RedisConfig};
use criterion::{Criterion, criterion_group, criterion_main};

/// Keys of the hot set.
const HOT: usize = 1_000;

fn key(i: usize) -> Bytes {
    Bytes::from(format!("key:{i:08}"))
}

fn cache_on_redis(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = test_support::shared_url();
    let p = Partition::new("bench").expect("name");
    let bare: Arc<dyn StorageBackend> = rt.block_on(async {
        let config = RedisConfig::new(&url).namespace(test_support::fresh_namespace());
        let store = RedisBackend::open(config).await.expect("open redis");
        store.create_partition(&p).await.expect("create");
        let ops = (0..HOT)
            .map(|i| Operation::put(&p, key(i), vec![7u8; 100]))
            .collect();
        store.batch(ops).await.expect("load");
        Arc::new(store)
    });
    let cached = CacheLayer::new(64 << 20).layer(bare.clone());
    let mut group = c.benchmark_group("cache_redis_get_100B");
    for (name, store) in [("redis", &bare), ("redis_cached", &cached)] {
        let mut i = 0usize;
        let p = &p;
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 7919) % HOT;
                let k = key(i);
                async move {
                    let v = store.get(p, &k).await.expect("get");
                    assert_eq!(v.map(|v| v.len()), Some(100), "{k:?}");
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cache_on_redis);
criterion_main!(benches);
