//! The cost of each layer over backend-mem: `get` of a present 100-byte value and `put`
//! of one, through each layer alone and through the full default stack, beside the bare
//! backend measured in the same run (subject `bare`). Overhead = layer - bare.
//!
//! ```sh
//! cargo bench -p backend-layers --bench layers -- --noplot
//! ```

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Partition, StorageBackend};
use backend_layers::{
    CacheLayer, ConcurrencyLimitLayer, FaultLayer, Layer, LayerStack, MetricsLayer, NamespaceLayer,
    RetryLayer, TimeoutLayer, TracingLayer,
};
use backend_mem::{MemBackend, MemConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use metrics_util::debugging::DebuggingRecorder;

type Wrap = Box<dyn Fn(Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend>>;

fn subjects() -> Vec<(&'static str, Wrap)> {
    vec![
        ("bare", Box::new(|b| b)),
        ("metrics", Box::new(|b| MetricsLayer::new().layer(b))),
        ("tracing", Box::new(|b| TracingLayer::new().layer(b))),
        (
            "timeout",
            Box::new(|b| TimeoutLayer::new(Duration::from_secs(30)).layer(b)),
        ),
        ("retry", Box::new(|b| RetryLayer::new().layer(b))),
        (
            "limit",
            Box::new(|b| ConcurrencyLimitLayer::new(256).layer(b)),
        ),
        ("cache", Box::new(|b| CacheLayer::new(64 << 20).layer(b))),
        (
            "namespace",
            Box::new(|b| NamespaceLayer::new("app").expect("namespace").layer(b)),
        ),
        ("fault_off", Box::new(|b| FaultLayer::new(1).layer(b))),
        (
            "full_stack",
            Box::new(|b| {
                LayerStack::recommended()
                    .namespace(NamespaceLayer::new("app").expect("namespace"))
                    .wrap(b)
            }),
        ),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn open(rt: &tokio::runtime::Runtime, wrap: &Wrap) -> (Arc<dyn StorageBackend>, Partition) {
    rt.block_on(async {
        let bare: Arc<dyn StorageBackend> =
            Arc::new(MemBackend::open(MemConfig::default()).await.expect("open"));
        let store = wrap(bare);
        let p = Partition::new("bench").expect("name");
        store.create_partition(&p).await.expect("create");
        store.put(&p, b"key:0001", &[7u8; 100]).await.expect("put");
        (store, p)
    })
}

fn bench_subject(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, wrap: &Wrap) {
    let (store, p) = open(rt, wrap);
    c.bench_function(&format!("layers_get_100B/{name}"), |b| {
        b.to_async(rt)
            .iter(|| async { store.get(&p, b"key:0001").await.expect("get") })
    });
    let value = [9u8; 100];
    c.bench_function(&format!("layers_put_100B/{name}"), |b| {
        b.to_async(rt)
            .iter(|| async { store.put(&p, b"key:0002", &value).await.expect("put") })
    });
}

fn layers(c: &mut Criterion) {
    let rt = runtime();
    for (name, wrap) in subjects() {
        bench_subject(c, &rt, name, &wrap);
    }
    // Metrics with a recorder in force (metrics-util's DebuggingRecorder, an in-memory
    // registry), installed for this thread only.
    let recorder = DebuggingRecorder::new();
    let wrap: Wrap = Box::new(|b| MetricsLayer::new().layer(b));
    metrics::with_local_recorder(&recorder, || {
        bench_subject(c, &rt, "metrics_recorded", &wrap)
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = layers
}
criterion_main!(benches);
