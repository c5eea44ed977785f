//! The timeout layer's promise: a call slower than its deadline answers
//! `Error::Timeout` for its operation; a scan whose next item stalls yields one Timeout
//! and ends; a watch waiting for events is not cut off.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use backend_api::{Error, ScanRange};
use backend_layers::{Layer, Op, TimeoutLayer};
use common::{Probe, part, rt};
use futures_util::StreamExt;

#[test]
fn a_slow_call_times_out_and_a_fast_one_does_not() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = TimeoutLayer::new(Duration::from_millis(50))
            .for_op(Op::Flush, Duration::from_secs(5))
            .layer(probe.clone());
        let p = part("t");
        store.create_partition(&p).await.unwrap();
        probe.delay(Duration::from_millis(200));
        match store.get(&p, b"k").await {
            Err(Error::Timeout { operation, after }) => {
                assert_eq!(operation, "get");
                assert_eq!(after, Duration::from_millis(50));
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
        store
            .flush()
            .await
            .expect("flush has its own longer deadline");
        probe.delay(Duration::ZERO);
        assert_eq!(store.get(&p, b"k").await.unwrap(), None);
    });
}

#[test]
fn a_stalled_scan_item_times_out_and_ends_the_stream() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = TimeoutLayer::new(Duration::from_secs(5))
            .scan_item(Duration::from_millis(50))
            .layer(probe.clone());
        let p = part("t");
        store.create_partition(&p).await.unwrap();
        store.put(&p, b"a", b"1").await.unwrap();
        probe.stall_scans.store(true, Ordering::SeqCst);
        let mut scan = store.scan(&p, ScanRange::all()).await.unwrap();
        assert_eq!(&scan.next().await.unwrap().unwrap().0[..], b"a");
        let started = std::time::Instant::now();
        match scan.next().await {
            Some(Err(Error::Timeout {
                operation: "scan", ..
            })) => {}
            other => panic!("expected a scan Timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            scan.next().await.is_none(),
            "the stream goes on after its Timeout"
        );
        let mut entries = store.scan_entries(&p, ScanRange::all()).await.unwrap();
        assert_eq!(&entries.next().await.unwrap().unwrap().key[..], b"a");
        match entries.next().await {
            Some(Err(Error::Timeout {
                operation: "scan_entries",
                ..
            })) => {}
            other => panic!("expected a scan_entries Timeout, got {other:?}"),
        }
        assert!(entries.next().await.is_none());
        // Waiting between items is the caller's time, not the backend's: no timeout.
        probe.stall_scans.store(false, Ordering::SeqCst);
        let mut scan = store.scan(&p, ScanRange::all()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(scan.next().await.unwrap().is_ok());
        assert!(scan.next().await.is_none());
    });
}

#[test]
fn a_watch_may_wait_longer_than_the_deadline() {
    rt().block_on(async {
        let store = TimeoutLayer::new(Duration::from_millis(30)).layer(Probe::new().await);
        let p = part("t");
        store.create_partition(&p).await.unwrap();
        let mut watch = store.watch(&p, b"").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.put(&p, b"k", b"v").await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), watch.next()).await;
        assert!(matches!(event, Ok(Some(Ok(_)))), "got {event:?}");
    });
}
