//! The fault layer's promise: a seeded, reproducible fraction of calls fail with
//! Unavailable or Timeout (only idempotent ones unless asked), or are delayed.
#![cfg(feature = "fault")]

mod common;

use std::time::{Duration, Instant};

use backend_api::{Error, StorageBackend};
use backend_layers::{FaultLayer, Layer};
use common::{Probe, part};

async fn outcomes(layer: FaultLayer, n: usize) -> Vec<Option<&'static str>> {
    let store = layer.layer(Probe::new().await);
    let p = part("f");
    store.create_partition(&p).await.ok();
    let mut seen = Vec::new();
    for _ in 0..n {
        seen.push(match store.get(&p, b"k").await {
            Ok(_) => None,
            Err(Error::Unavailable { .. }) => Some("unavailable"),
            Err(Error::Timeout { .. }) => Some("timeout"),
            Err(e) => panic!("unexpected {e}"),
        });
    }
    seen
}

#[tokio::test]
async fn the_same_seed_fails_the_same_calls_at_the_chosen_rate() {
    let a = outcomes(FaultLayer::new(42).fail(0.1, 0.5), 4000).await;
    let b = outcomes(FaultLayer::new(42).fail(0.1, 0.5), 4000).await;
    assert_eq!(a, b, "same seed, same faults");
    let failed = a.iter().filter(|o| o.is_some()).count();
    assert!(
        (300..500).contains(&failed),
        "{failed} of 4000 failed at 10%"
    );
    let timeouts = a.iter().filter(|o| **o == Some("timeout")).count();
    assert!(
        timeouts > failed / 4 && timeouts < failed * 3 / 4,
        "{timeouts} of {failed}"
    );
    assert_ne!(a, outcomes(FaultLayer::new(43).fail(0.1, 0.5), 4000).await);
}

#[tokio::test]
async fn cas_is_spared_unless_all_operations_are_chosen() {
    let p = part("f");
    let store = FaultLayer::new(1).fail(1.0, 0.0).layer(Probe::new().await);
    assert!(
        store
            .compare_and_swap(&p, b"k", None, None)
            .await
            .is_err_and(|e| matches!(e, Error::PartitionNotFound(_)))
    );
    let store = FaultLayer::new(1)
        .fail(1.0, 0.0)
        .all_operations()
        .layer(Probe::new().await);
    assert!(matches!(
        store.compare_and_swap(&p, b"k", None, None).await,
        Err(Error::Unavailable { .. })
    ));
}

#[tokio::test]
async fn ambiguous_faults_apply_the_write_and_latency_slows_calls() {
    let probe = Probe::new().await;
    let p = part("f");
    probe.create_partition(&p).await.unwrap();
    let store = FaultLayer::new(5)
        .fail(1.0, 1.0)
        .ambiguous()
        .layer(probe.clone());
    assert!(matches!(
        store.put(&p, b"k", b"v").await,
        Err(Error::Timeout { .. })
    ));
    assert_eq!(
        probe.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"v"[..]),
        "the write happened"
    );
    let slow = FaultLayer::new(5)
        .latency(1.0, Duration::from_millis(30))
        .layer(probe.clone());
    let started = Instant::now();
    slow.get(&p, b"k").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(30));
}
