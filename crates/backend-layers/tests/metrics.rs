//! The metrics layer's promise: every call is counted and timed, errors by kind, bytes
//! read and written, scan items and watch lag, labelled by backend and operation (and
//! partition on request), never by key. Recorded through a test recorder.
#![cfg(feature = "metrics")]

mod common;

use std::collections::HashMap;

use backend_api::{Error, Partition, ScanRange, StorageBackend, WatchEvent};
use backend_layers::{Layer, MetricsLayer, metrics as m};
use backend_mem::MemConfig;
use common::{Probe, part, rt};
use futures_util::StreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// Every metric as (name, sorted labels) -> value.
type Seen = HashMap<(String, Vec<(String, String)>), DebugValue>;

fn run(
    layer: MetricsLayer,
    config: MemConfig,
    work: impl AsyncFnOnce(&dyn StorageBackend, Partition),
) -> Seen {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        rt().block_on(async {
            let probe = Probe::with(config).await;
            let store = layer.layer(probe);
            let p = part("orders");
            store.create_partition(&p).await.unwrap();
            work(&*store, p).await;
        })
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

fn counter(seen: &Seen, name: &str, pairs: &[(&str, &str)]) -> u64 {
    match seen.get(&(name.to_owned(), labels(pairs))) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {pairs:?}: {other:?}; all: {:?}", seen.keys()),
    }
}

#[test]
fn calls_errors_bytes_and_latency_are_recorded() {
    let seen = run(MetricsLayer::new(), MemConfig::default(), async |s, p| {
        s.put(&p, b"secret-key", b"12345").await.unwrap();
        assert_eq!(s.get(&p, b"secret-key").await.unwrap().unwrap().len(), 5);
        s.get(&p, b"secret-key").await.unwrap();
        let missing = Partition::new("missing").unwrap();
        assert!(matches!(
            s.get(&missing, b"k").await,
            Err(Error::PartitionNotFound(_))
        ));
    });
    let get = [("backend", "probe"), ("operation", "get")];
    assert_eq!(counter(&seen, m::OPERATIONS, &get), 3);
    assert_eq!(counter(&seen, m::READ_BYTES, &get), 10);
    let put = [("backend", "probe"), ("operation", "put")];
    assert_eq!(counter(&seen, m::WRITTEN_BYTES, &put), 15);
    let err = [
        ("backend", "probe"),
        ("operation", "get"),
        ("kind", "partition_not_found"),
    ];
    assert_eq!(counter(&seen, m::ERRORS, &err), 1);
    match seen.get(&(m::DURATION.to_owned(), labels(&get))) {
        Some(DebugValue::Histogram(samples)) => {
            assert_eq!(samples.len(), 3);
            assert!(
                samples
                    .iter()
                    .all(|s| s.into_inner() >= 0.0 && s.into_inner() < 5.0)
            );
        }
        other => panic!("no latency histogram: {other:?}"),
    }
    for (_, labels) in seen.keys() {
        assert!(
            labels
                .iter()
                .all(|(k, v)| k != "partition" && !v.contains("secret")),
            "a key or an unrequested partition became a label: {labels:?}"
        );
    }
}

#[test]
fn partition_label_is_opt_in() {
    let seen = run(
        MetricsLayer::new().partition_label(),
        MemConfig::default(),
        async |s, p| {
            s.get(&p, b"k").await.unwrap();
        },
    );
    let get = [
        ("backend", "probe"),
        ("operation", "get"),
        ("partition", "orders"),
    ];
    assert_eq!(counter(&seen, m::OPERATIONS, &get), 1);
}

#[test]
fn scan_items_and_watch_lag_are_recorded() {
    let config = MemConfig::default().watch_capacity(4);
    let seen = run(MetricsLayer::new(), config, async |s, p| {
        for i in 0..10u8 {
            s.put(&p, &[b'k', i], b"v").await.unwrap();
        }
        let items: Vec<_> = s.scan(&p, ScanRange::all()).await.unwrap().collect().await;
        assert_eq!(items.len(), 10);
        let entries: Vec<_> = s
            .scan_entries(&p, ScanRange::prefix(vec![b'k', 0]))
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(entries.len(), 1);
        let mut watch = s.watch(&p, b"").await.unwrap();
        for i in 0..40u8 {
            s.put(&p, &[b'w', i], b"v").await.unwrap();
        }
        let mut lagged = 0;
        let mut events = 0;
        while events + lagged < 40 {
            match watch.next().await.unwrap().unwrap() {
                WatchEvent::Lagged(n) => lagged += n,
                _ => events += 1,
            }
        }
        assert!(lagged > 0, "the watcher never lagged");
    });
    let backend = [("backend", "probe")];
    assert_eq!(
        counter(&seen, m::SCAN_ITEMS, &backend),
        11,
        "scan and scan_entries items"
    );
    let lagged = counter(&seen, m::WATCH_LAGGED, &backend);
    let events = counter(&seen, m::WATCH_EVENTS, &backend);
    assert!(lagged > 0);
    assert_eq!(lagged + events, 40);
    let scan = [("backend", "probe"), ("operation", "scan")];
    assert_eq!(counter(&seen, m::READ_BYTES, &scan), 30);
    let entries = [("backend", "probe"), ("operation", "scan_entries")];
    assert_eq!(counter(&seen, m::READ_BYTES, &entries), 3);
    assert_eq!(counter(&seen, m::OPERATIONS, &entries), 1);
}
