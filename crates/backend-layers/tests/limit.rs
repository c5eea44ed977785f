//! The concurrency limit's promise: at most `n` calls in the backend at once; a permit
//! is held per call, never for a stream's lifetime.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use backend_api::ScanRange;
use backend_layers::{ConcurrencyLimitLayer, Layer};
use common::{Probe, part};
use futures_util::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_n_calls_run_at_once() {
    let probe = Probe::new().await;
    let limit = ConcurrencyLimitLayer::new(2);
    let store = limit.layer(probe.clone());
    let p = part("l");
    store.create_partition(&p).await.unwrap();
    probe.delay(Duration::from_millis(20));
    probe.max_in_flight.store(0, Ordering::SeqCst);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let p = p.clone();
            tokio::spawn(async move { store.get(&p, b"k").await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(probe.max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(limit.available(), 2, "every permit came back");
}

#[tokio::test]
async fn open_streams_hold_no_permit() {
    let limit = ConcurrencyLimitLayer::new(1);
    let store = limit.layer(Probe::new().await);
    let p = part("l");
    store.create_partition(&p).await.unwrap();
    store.put(&p, b"a", b"1").await.unwrap();
    let mut scan = store.scan(&p, ScanRange::all()).await.unwrap();
    let _watch = store.watch(&p, b"").await.unwrap();
    assert_eq!(limit.available(), 1);
    // With a permit held by the open scan or watch this put would wait forever.
    tokio::time::timeout(Duration::from_secs(5), store.put(&p, b"b", b"2"))
        .await
        .expect("a write while a scan and a watch are open")
        .unwrap();
    assert!(scan.next().await.unwrap().is_ok());
}
