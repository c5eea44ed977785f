//! The builder's order and double application: a hung attempt is cut by the timeout
//! inside the retry and retried; a cache hit never reaches the layers below it; the same
//! layer applied twice composes as documented.
#![cfg(all(feature = "cache", feature = "metrics"))]

mod common;

use std::time::Duration;

use backend_api::StorageBackend;
use backend_layers::{
    CacheLayer, ConcurrencyLimitLayer, Layer, LayerStack, MetricsLayer, NamespaceLayer, RetryLayer,
    TimeoutLayer,
};
use common::{Probe, part, rt};

#[test]
fn timeout_sits_inside_retry_and_cache_above_both() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = LayerStack::new()
            .cache(CacheLayer::new(1 << 20))
            .retry(RetryLayer::new().backoff(Duration::from_millis(1), Duration::from_millis(2)))
            .limit(ConcurrencyLimitLayer::new(1))
            .timeout(TimeoutLayer::new(Duration::from_millis(40)))
            .namespace(NamespaceLayer::new("app").unwrap())
            .wrap(probe.clone());
        let p = part("s");
        store.create_partition(&p).await.unwrap();
        store.put(&p, b"k", b"v").await.unwrap();
        assert!(
            probe
                .list_partitions()
                .await
                .unwrap()
                .iter()
                .any(|q| q.name() == "app_s")
        );
        probe.take_calls();
        probe.hang_next(2);
        assert_eq!(
            store.get(&p, b"other").await.unwrap(),
            None,
            "two hung attempts, then one answer"
        );
        assert_eq!(probe.count("get"), 3);
        probe.take_calls();
        probe.hang_next(1);
        assert_eq!(
            store.get(&p, b"k").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
        assert!(
            probe.take_calls().is_empty(),
            "a cache hit went below the cache"
        );
    });
}

#[test]
fn layers_applied_twice_compose() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let p = part("s");
        let twice = TimeoutLayer::new(Duration::from_millis(40))
            .layer(TimeoutLayer::new(Duration::from_secs(10)).layer(probe.clone()));
        twice.create_partition(&p).await.unwrap();
        probe.hang_next(1);
        let started = std::time::Instant::now();
        assert!(twice.get(&p, b"k").await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the shorter deadline wins"
        );

        let ns = NamespaceLayer::new("outer")
            .unwrap()
            .layer(NamespaceLayer::new("inner").unwrap().layer(probe.clone()));
        let q = part("q");
        ns.create_partition(&q).await.unwrap();
        assert!(
            probe
                .partition_exists(&part("inner_outer_q"))
                .await
                .unwrap(),
            "prefixes nest"
        );
        assert_eq!(ns.list_partitions().await.unwrap(), vec![q]);
    });
}

#[test]
fn metrics_applied_twice_count_twice() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snap = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let probe = rt().block_on(Probe::new());
        let counted = MetricsLayer::new().layer(MetricsLayer::new().layer(probe));
        rt().block_on(async {
            let p = part("s");
            counted.create_partition(&p).await.unwrap();
            counted.get(&p, b"k").await.unwrap();
        });
    });
    let ops: u64 = snap
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == backend_layers::metrics::OPERATIONS)
        .map(|(.., v)| match v {
            metrics_util::debugging::DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(
        ops, 4,
        "counted once per application (create and get, twice each)"
    );
}
