//! Every layer forwards every `StorageBackend` method to the backend it wraps, so no
//! trait default can answer in its place (OpenDAL's layer pitfall).
//!
//! Two guards: a source check that each `impl StorageBackend` in this crate names every
//! method the trait declares (clippy's `missing_trait_methods`, denied on each impl, is
//! the compile-time one), and a run of all 23 methods through each layer over a probe
//! that records which methods reached it.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use backend_api::{Bytes, Check, Operation, PutOptions, ScanRange, StorageBackend};
use backend_layers::{
    CacheLayer, ConcurrencyLimitLayer, FaultLayer, Layer, LayerStack, MetricsLayer, NamespaceLayer,
    Op, RetryLayer, TimeoutLayer, TracingLayer,
};
use common::{Probe, part, rt};

/// Names of the `fn`s declared in `text`, one per line (rustfmt's layout).
fn fn_names(text: &str) -> BTreeSet<&str> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start();
            let rest = rest.strip_prefix("async ").unwrap_or(rest);
            let rest = rest.strip_prefix("fn ")?;
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
            Some(&rest[..end])
        })
        .collect()
}

/// The block that starts at `start` and ends at the first line that is just `}`.
fn block<'a>(source: &'a str, start: &str) -> &'a str {
    let from = source
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not found"));
    let len = source[from..].find("\n}\n").expect("end of block");
    &source[from..from + len]
}

#[test]
fn every_impl_names_every_trait_method() {
    let api = include_str!("../../backend-api/src/backend.rs");
    let declared = fn_names(block(api, "pub trait StorageBackend"));
    assert!(
        declared.len() >= 24,
        "parsed too few trait methods: {declared:?}"
    );
    for (file, source) in [
        ("around.rs", include_str!("../src/around.rs")),
        ("namespace.rs", include_str!("../src/namespace.rs")),
        ("cache/backend.rs", include_str!("../src/cache/backend.rs")),
    ] {
        let forwarded = fn_names(block(source, "StorageBackend for "));
        assert_eq!(declared, forwarded, "{file} does not forward every method");
    }
    // The `Op` list covers every method but the two answered without a call.
    let ops: BTreeSet<&str> = Op::ALL.iter().map(|op| op.name()).collect();
    let mut calls = declared.clone();
    calls.remove("name");
    calls.remove("capabilities");
    assert_eq!(ops, calls, "Op does not list every trait method");
}

/// Calls every method once, in an order where the cache cannot answer a read itself.
async fn call_everything(store: &dyn StorageBackend) {
    let p = part("fw");
    store.create_partition(&p).await.unwrap();
    assert!(store.partition_exists(&p).await.unwrap());
    assert_eq!(store.list_partitions().await.unwrap(), vec![p.clone()]);
    assert_eq!(store.get(&p, b"k1").await.unwrap(), None);
    assert_eq!(
        store
            .get_many(&p, &[Bytes::from_static(b"k2")])
            .await
            .unwrap(),
        vec![None]
    );
    assert!(!store.exists(&p, b"k3").await.unwrap());
    store.put(&p, b"k1", b"v").await.unwrap();
    store
        .put_with(
            &p,
            b"k2",
            b"v",
            PutOptions::with_ttl(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    store.delete(&p, b"k2").await.unwrap();
    drop(store.scan(&p, ScanRange::all()).await.unwrap());
    drop(store.scan_entries(&p, ScanRange::all()).await.unwrap());
    store
        .batch(vec![Operation::put(&p, "k4", "v")])
        .await
        .unwrap();
    let outcome = store
        .conditional_batch(
            vec![Check::absent(&p, "k5")],
            vec![Operation::put(&p, "k5", "v")],
        )
        .await
        .unwrap();
    assert!(outcome.is_applied());
    assert!(
        store
            .compare_and_swap(&p, b"k6", None, Some(b"v"))
            .await
            .unwrap()
            .is_swapped()
    );
    drop(store.watch(&p, b"").await.unwrap());
    store.partition_size(&p).await.unwrap();
    assert_eq!(store.len(&p).await.unwrap(), 4);
    assert!(!store.is_empty(&p).await.unwrap());
    let _ = store.compact(&p).await; // mem answers Unsupported, after the call arrived
    store.flush().await.unwrap();
    store.status().await.unwrap();
    store.drop_partition(&p).await.unwrap();
    store.close().await.unwrap();
}

fn check_layer(name: &str, wrap: impl Fn(Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend>) {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = wrap(probe.clone());
        assert_eq!(store.name(), "probe", "{name}: name() not forwarded");
        assert_eq!(
            store.capabilities(),
            probe.capabilities(),
            "{name}: capabilities changed"
        );
        call_everything(&*store).await;
        let calls = probe.take_calls();
        // call_everything calls the methods in `Op::ALL` order, but drops the partition
        // last, just before `close`.
        let last = [Op::DropPartition, Op::Close];
        let expected: Vec<&str> = Op::ALL
            .iter()
            .filter(|op| !last.contains(op))
            .chain(&last)
            .map(|op| op.name())
            .collect();
        assert_eq!(
            calls, expected,
            "{name}: not every call reached the backend once"
        );
    });
}

#[test]
fn every_layer_forwards_every_call() {
    check_layer("metrics", |b| MetricsLayer::new().layer(b));
    check_layer("tracing", |b| TracingLayer::new().layer(b));
    check_layer("timeout", |b| {
        TimeoutLayer::new(Duration::from_secs(5)).layer(b)
    });
    check_layer("retry", |b| RetryLayer::new().layer(b));
    check_layer("limit", |b| ConcurrencyLimitLayer::new(1).layer(b));
    check_layer("cache", |b| CacheLayer::new(1 << 20).layer(b));
    check_layer("namespace", |b| NamespaceLayer::new("ns").unwrap().layer(b));
    check_layer("fault", |b| FaultLayer::new(3).layer(b));
    check_layer("stack", |b| {
        LayerStack::recommended()
            .namespace(NamespaceLayer::new("ns").unwrap())
            .wrap(b)
    });
}
