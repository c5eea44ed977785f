//! sled-specific behaviour beyond the battery: CAS under concurrency, TTL meeting CAS,
//! the tree registry across reopen, atomic cross-tree batches, slow watchers.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{
    Bytes, CasOutcome, Operation, Partition, PutOptions, ScanRange, StorageBackend, WatchEvent,
};
use backend_sled::{SledBackend, SledConfig};
use futures_util::StreamExt;
use tempfile::TempDir;

async fn open(dir: &TempDir) -> SledBackend {
    SledBackend::open(SledConfig::new(dir.path()).cache_capacity(16 << 20))
        .await
        .expect("open")
}

async fn partition(store: &SledBackend, name: &str) -> Partition {
    let p = Partition::new(name).unwrap();
    store.create_partition(&p).await.unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_increments_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir).await);
    let p = partition(&store, "counters").await;
    const TASKS: u64 = 8;
    const EACH: u64 = 100;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let (store, p) = (store.clone(), p.clone());
        handles.push(tokio::spawn(async move {
            let mut retries = 0u64;
            for _ in 0..EACH {
                let mut current = store.get(&p, b"n").await.unwrap();
                loop {
                    let n = current
                        .as_deref()
                        .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
                    let next = (n + 1).to_be_bytes();
                    match store
                        .compare_and_swap(&p, b"n", current.as_deref(), Some(&next))
                        .await
                        .unwrap()
                    {
                        CasOutcome::Swapped => break,
                        CasOutcome::Mismatch { current: now } => {
                            retries += 1;
                            assert!(retries < 1_000_000, "CAS livelock");
                            current = now;
                        }
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let n = store.get(&p, b"n").await.unwrap().unwrap();
    assert_eq!(u64::from_be_bytes(n[..].try_into().unwrap()), TASKS * EACH);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_but_present_value_is_absent_to_cas() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let p = partition(&store, "ttl").await;
    store
        .put_with(
            &p,
            b"k",
            b"old",
            PutOptions::with_ttl(Duration::from_millis(30)),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    // The expired value must not match...
    assert_eq!(
        store
            .compare_and_swap(&p, b"k", Some(b"old"), Some(b"x"))
            .await
            .unwrap(),
        CasOutcome::Mismatch { current: None }
    );
    // ...and "absent" must, even though the expired bytes are still stored.
    assert!(
        store
            .compare_and_swap(&p, b"k", None, Some(b"new"))
            .await
            .unwrap()
            .is_swapped()
    );
    assert_eq!(
        store.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    // A live TTL value compares by its user bytes, not its header.
    store
        .put_with(
            &p,
            b"t",
            b"live",
            PutOptions::with_ttl(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    assert!(
        store
            .compare_and_swap(&p, b"t", Some(b"live"), None)
            .await
            .unwrap()
            .is_swapped()
    );
    assert!(!store.exists(&p, b"t").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_ttl_put_deletes_the_older_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let p = partition(&store, "ttl").await;
    store.put(&p, b"k", b"v").await.unwrap();
    store
        .put_with(&p, b"k", b"w", PutOptions::with_ttl(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(store.get(&p, b"k").await.unwrap(), None);
    let keys: Vec<_> = store
        .scan(&p, ScanRange::all())
        .await
        .unwrap()
        .collect()
        .await;
    assert!(keys.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_partitions_and_lists_only_user_trees() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    // A user partition named like sled's default tree must not collide with it.
    let tricky = partition(&store, "__sled__default").await;
    let a = partition(&store, "a").await;
    let gone = partition(&store, "gone").await;
    store.put(&a, b"k", b"a").await.unwrap();
    store.put(&tricky, b"k", b"tricky").await.unwrap();
    store.drop_partition(&gone).await.unwrap();
    store.close().await.unwrap();

    let store = open(&dir).await;
    assert_eq!(
        store.list_partitions().await.unwrap(),
        vec![tricky.clone(), a.clone()]
    );
    assert!(!store.partition_exists(&gone).await.unwrap());
    assert_eq!(
        store.get(&a, b"k").await.unwrap().as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(
        store.get(&tricky, b"k").await.unwrap().as_deref(),
        Some(&b"tricky"[..])
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_handle_on_an_open_store_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let second = SledBackend::open(SledConfig::new(dir.path())).await;
    assert!(
        matches!(second, Err(backend_api::Error::Locked { .. })),
        "{second:?}"
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_tree_batches_are_never_seen_half_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir).await);
    let a = partition(&store, "a").await;
    let b = partition(&store, "b").await;
    // Invariant: a/x and b/x always hold the same generation number.
    let gen0 = 0u32.to_be_bytes();
    store
        .batch(vec![
            Operation::put(&a, "x", gen0.to_vec()),
            Operation::put(&b, "x", gen0.to_vec()),
        ])
        .await
        .unwrap();
    let writer = {
        let (store, a, b) = (store.clone(), a.clone(), b.clone());
        tokio::spawn(async move {
            for g in 1u32..=300 {
                let v = Bytes::copy_from_slice(&g.to_be_bytes());
                store
                    .batch(vec![
                        Operation::put(&a, "x", v.clone()),
                        Operation::put(&b, "x", v),
                    ])
                    .await
                    .unwrap();
            }
        })
    };
    let mut checks = 0;
    while !writer.is_finished() && checks < 100_000 {
        // Read b first, then a: a half-applied batch (a written, b not yet, or the
        // reverse) would show up as a mismatch in one of the orders over many rounds.
        let got = store
            .get_many(&a, &[Bytes::from_static(b"x")])
            .await
            .unwrap();
        let other = store.get(&b, b"x").await.unwrap();
        let (ga, gb) = (got[0].clone().unwrap(), other.unwrap());
        assert!(
            gb >= ga,
            "b={gb:?} is older than a={ga:?}, read after it: torn batch"
        );
        checks += 1;
    }
    writer.await.unwrap();
    assert_eq!(
        store.get(&a, b"x").await.unwrap(),
        store.get(&b, b"x").await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_watcher_never_blocks_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledBackend::open(SledConfig::new(dir.path()).watch_capacity(16))
        .await
        .unwrap();
    let p = partition(&store, "w").await;
    let mut watch = store.watch(&p, b"").await.unwrap();
    // Nobody reads the watch while 5 000 writes go through; with sled's own subscriber
    // this would block after its queue filled. A hang fails via the timeout.
    tokio::time::timeout(Duration::from_secs(120), async {
        for i in 0u32..5_000 {
            store.put(&p, &i.to_be_bytes(), b"v").await.unwrap();
        }
    })
    .await
    .expect("writers blocked on a slow watcher");
    match watch.next().await.unwrap().unwrap() {
        WatchEvent::Lagged(n) => assert_eq!(n, 5_000 - 16),
        other => panic!("expected Lagged, got {other:?}"),
    }
    // After the lag notice the newest 16 events follow, in order.
    for i in (5_000u32 - 16)..5_000 {
        assert_eq!(
            watch.next().await.unwrap().unwrap(),
            WatchEvent::Put {
                key: Bytes::copy_from_slice(&i.to_be_bytes()),
                value: Bytes::from_static(b"v")
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_sees_each_keys_writes_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir).await);
    let p = partition(&store, "w").await;
    let mut watch = store.watch(&p, b"").await.unwrap();
    // Several writers race on the same key with increasing values each; the last event
    // seen per writer order must match the final stored value.
    let mut handles = Vec::new();
    for w in 0u8..4 {
        let (store, p) = (store.clone(), p.clone());
        handles.push(tokio::spawn(async move {
            for i in 0u8..50 {
                store.put(&p, b"k", &[w, i]).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let mut last = None;
    for _ in 0..200 {
        match tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            WatchEvent::Put { value, .. } => last = Some(value),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        last,
        store.get(&p, b"k").await.unwrap(),
        "last event is not the final value"
    );
}
