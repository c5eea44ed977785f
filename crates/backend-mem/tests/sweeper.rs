//! TTL reclamation: expired keys are invisible at once, the sweeper reclaims them in
//! bounded steps, and it stops once the backend is closed or dropped.

use std::time::{Duration, Instant};

use backend_api::{CasOutcome, Partition, PutOptions, ScanRange, StorageBackend};
use backend_mem::{ENTRY_OVERHEAD, MemBackend, MemConfig};
use futures_util::TryStreamExt;

/// Polls `cond` every few milliseconds for at most `limit`; true once it holds.
async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond().await
}

/// A sweeper that never ticks during the test, so only explicit sweeps reclaim.
fn manual() -> MemConfig {
    MemConfig::new().sweep_interval(Duration::from_secs(3600))
}

async fn setup(config: MemConfig) -> (MemBackend, Partition) {
    let db = MemBackend::open(config).await.unwrap();
    let p = Partition::new("p").unwrap();
    db.create_partition(&p).await.unwrap();
    (db, p)
}

#[tokio::test]
async fn expired_keys_are_invisible_before_they_are_swept() {
    let (db, p) = setup(manual()).await;
    db.put(&p, b"keep", b"v").await.unwrap();
    db.put_with(
        &p,
        b"gone",
        b"v",
        PutOptions::with_ttl(Duration::from_millis(1)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert_eq!(db.get(&p, b"gone").await.unwrap(), None);
    assert!(!db.exists(&p, b"gone").await.unwrap());
    assert_eq!(db.len(&p).await.unwrap(), 1);
    let keys: Vec<_> = db
        .scan(&p, ScanRange::all().keys_only())
        .await
        .unwrap()
        .map_ok(|(k, _)| k)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys, vec![&b"keep"[..]]);
    assert_eq!(
        db.compare_and_swap(&p, b"gone", Some(b"v"), None)
            .await
            .unwrap(),
        CasOutcome::Mismatch { current: None }
    );
    // Still stored (not swept): counted in entries and bytes, not in live_keys.
    let status = db.status().await.unwrap();
    assert_eq!(status["entries"], "2");
    assert_eq!(status["live_keys"], "1");
    assert_eq!(status["expirations"], "0");

    assert_eq!(db.sweep_expired().unwrap(), 1);
    let status = db.status().await.unwrap();
    assert_eq!(status["entries"], "1");
    assert_eq!(status["expirations"], "1");
    assert_eq!(status["bytes"], (4 + 1 + ENTRY_OVERHEAD).to_string());
    assert_eq!(db.sweep_expired().unwrap(), 0);
}

#[tokio::test]
async fn a_sweep_does_bounded_work() {
    let (db, p) = setup(manual().sweep_budget(100)).await;
    for i in 0..1000u32 {
        db.put_with(
            &p,
            &i.to_be_bytes(),
            b"v",
            PutOptions::with_ttl(Duration::from_millis(1)),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(db.len(&p).await.unwrap(), 0);
    for _ in 0..10 {
        assert_eq!(db.sweep_expired().unwrap(), 100);
    }
    assert_eq!(db.sweep_expired().unwrap(), 0);
    assert_eq!(db.partition_size(&p).await.unwrap(), 0);
}

#[tokio::test]
async fn a_rewrite_without_ttl_is_not_swept() {
    let (db, p) = setup(manual()).await;
    db.put_with(
        &p,
        b"k",
        b"old",
        PutOptions::with_ttl(Duration::from_millis(1)),
    )
    .await
    .unwrap();
    db.put(&p, b"k", b"new").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(db.sweep_expired().unwrap(), 0);
    assert_eq!(
        db.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(db.status().await.unwrap()["entries_with_ttl"], "0");
}

#[tokio::test]
async fn the_background_sweeper_reclaims_expired_keys() {
    let config = MemConfig::new().sweep_interval(Duration::from_millis(10));
    let (db, p) = setup(config).await;
    for i in 0..500u32 {
        db.put_with(
            &p,
            &i.to_be_bytes(),
            b"v",
            PutOptions::with_ttl(Duration::from_millis(1)),
        )
        .await
        .unwrap();
    }
    db.put(&p, b"stays", b"v").await.unwrap();
    let reclaimed = eventually(Duration::from_secs(10), async || {
        db.status().await.unwrap()["entries"] == "1"
    })
    .await;
    assert!(reclaimed, "status: {:?}", db.status().await.unwrap());
    assert_eq!(db.status().await.unwrap()["expirations"], "500");
    assert_ne!(db.status().await.unwrap()["sweeps"], "0");
}

/// The sweeper is the only task this runtime runs besides the test's own.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(flavor = "current_thread")]
async fn the_sweeper_stops_when_the_backend_is_dropped() {
    let config = MemConfig::new().sweep_interval(Duration::from_millis(5));
    let db = MemBackend::open(config).await.unwrap();
    assert_eq!(alive_tasks(), 1, "open starts one sweeper task");
    drop(db);
    assert!(
        eventually(Duration::from_secs(10), async || alive_tasks() == 0).await,
        "the sweeper outlived its backend"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_sweeper_stops_when_the_backend_is_closed() {
    let config = MemConfig::new().sweep_interval(Duration::from_millis(5));
    let db = MemBackend::open(config).await.unwrap();
    assert_eq!(alive_tasks(), 1, "open starts one sweeper task");
    db.close().await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || alive_tasks() == 0).await,
        "the sweeper outlived close()"
    );
    assert!(db.sweep_expired().is_err());
}
