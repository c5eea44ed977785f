//! RocksDB-specific behaviour beyond the battery: the TTL compaction filter, CAS under
//! concurrency (plain and with sync writes), column families across reopen, atomic
//! cross-family batches, snapshot scans, slow watchers.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{
    Bytes, CasOutcome, Operation, Partition, PutOptions, ScanRange, StorageBackend, WatchEvent,
};
use backend_rocks::{RocksBackend, RocksConfig};
use futures_util::StreamExt;
use tempfile::TempDir;

fn config(dir: &TempDir) -> RocksConfig {
    RocksConfig::new(dir.path()).block_cache_bytes(8 << 20)
}

async fn open(dir: &TempDir) -> RocksBackend {
    RocksBackend::open(config(dir)).await.expect("open")
}

async fn partition(store: &RocksBackend, name: &str) -> Partition {
    let p = Partition::new(name).unwrap();
    store.create_partition(&p).await.unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_increments_lose_nothing() {
    cas_increments(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_increments_lose_nothing_with_sync_writes() {
    cas_increments(true).await;
}

async fn cas_increments(sync: bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        RocksBackend::open(config(&dir).sync_writes(sync))
            .await
            .unwrap(),
    );
    let p = partition(&store, "counters").await;
    const TASKS: u64 = 8;
    let each: u64 = if sync { 20 } else { 100 };
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let (store, p) = (store.clone(), p.clone());
        handles.push(tokio::spawn(async move {
            let mut retries = 0u64;
            for _ in 0..each {
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
    assert_eq!(u64::from_be_bytes(n[..].try_into().unwrap()), TASKS * each);
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
    // A user partition named like RocksDB's default column family must not collide.
    let tricky = partition(&store, "default").await;
    let a = partition(&store, "a").await;
    let gone = partition(&store, "gone").await;
    store.put(&a, b"k", b"a").await.unwrap();
    store.put(&tricky, b"k", b"tricky").await.unwrap();
    store.drop_partition(&gone).await.unwrap();
    store.close().await.unwrap();

    let store = open(&dir).await;
    assert_eq!(
        store.list_partitions().await.unwrap(),
        vec![a.clone(), tricky.clone()]
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
    let second = RocksBackend::open(config(&dir)).await;
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
    let store = RocksBackend::open(config(&dir).watch_capacity(16))
        .await
        .unwrap();
    let p = partition(&store, "w").await;
    let mut watch = store.watch(&p, b"").await.unwrap();
    // Nobody reads the watch while 5 000 writes go through; a blocking
    // subscriber would stall here. A hang fails via the timeout.
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

/// Opens the store's files with plain RocksDB (after the backend closed) and reads the
/// raw stored bytes of `key` in partition `name`.
fn raw_get(dir: &TempDir, name: &str, key: &[u8]) -> Option<Vec<u8>> {
    let opts = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&opts, dir.path()).unwrap();
    let db = rocksdb::DB::open_cf_for_read_only(&opts, dir.path(), &families, false).unwrap();
    let cf = db.cf_handle(&format!("p:{name}")).expect("column family");
    db.get_cf(&cf, key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_filter_drops_expired_values_without_resurrecting_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let p = partition(&store, "ttl").await;
    // An old version of "r" sits in the bottommost level before a TTL version covers it.
    store.put(&p, b"r", b"old").await.unwrap();
    store.flush().await.unwrap();
    store.compact(&p).await.unwrap();
    let short = PutOptions::with_ttl(Duration::from_millis(40));
    store.put_with(&p, b"r", b"new", short).await.unwrap();
    store.put_with(&p, b"e", b"gone", short).await.unwrap();
    store.put(&p, b"keep", b"kept").await.unwrap();
    store
        .put_with(
            &p,
            b"later",
            b"alive",
            PutOptions::with_ttl(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.get(&p, b"r").await.unwrap(),
        None,
        "expired is invisible at once"
    );
    store.compact(&p).await.unwrap();
    assert_eq!(
        store.get(&p, b"r").await.unwrap(),
        None,
        "compaction resurrected an old version"
    );
    assert_eq!(store.len(&p).await.unwrap(), 2);
    store.close().await.unwrap();

    assert_eq!(
        raw_get(&dir, "ttl", b"e"),
        None,
        "expired value still stored after compaction"
    );
    assert_eq!(
        raw_get(&dir, "ttl", b"r"),
        None,
        "expired value or its old version still stored"
    );
    let keep = raw_get(&dir, "ttl", b"keep").expect("live value kept");
    assert_eq!(&keep[..], b"\x00kept", "header + value");
    let later = raw_get(&dir, "ttl", b"later").expect("unexpired TTL value kept");
    assert!(later.ends_with(b"alive") && later[0] == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_read_a_snapshot_taken_when_scan_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let p = partition(&store, "snap").await;
    for i in 0u32..2_000 {
        store
            .put(&p, &(i * 2).to_be_bytes(), b"before")
            .await
            .unwrap();
    }
    for reverse in [false, true] {
        let range = if reverse {
            ScanRange::all().reverse()
        } else {
            ScanRange::all()
        };
        let mut stream = store.scan(&p, range).await.unwrap();
        // Writes after scan() returned: new keys between old ones, overwrites, deletes.
        for i in 0u32..2_000 {
            store
                .put(&p, &(i * 2 + 1).to_be_bytes(), b"during")
                .await
                .unwrap();
            store
                .put(&p, &(i * 2).to_be_bytes(), b"during")
                .await
                .unwrap();
        }
        store.delete(&p, &0u32.to_be_bytes()).await.unwrap();
        let mut seen = 0;
        while let Some(item) = stream.next().await {
            let (key, value) = item.unwrap();
            assert_eq!(
                &value[..],
                b"before",
                "scan saw a write made after it started"
            );
            assert_eq!(u32::from_be_bytes(key[..].try_into().unwrap()) % 2, 0);
            seen += 1;
        }
        assert_eq!(seen, 2_000);
        // Reset for the next direction.
        for i in 0u32..2_000 {
            store.delete(&p, &(i * 2 + 1).to_be_bytes()).await.unwrap();
            store
                .put(&p, &(i * 2).to_be_bytes(), b"before")
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_keep_every_operation_working() {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksBackend::open(config(&dir).sync_writes(true))
        .await
        .unwrap();
    let p = partition(&store, "sync").await;
    store.put(&p, b"a", b"1").await.unwrap();
    store
        .batch(vec![
            Operation::put(&p, "b", "2"),
            Operation::delete(&p, "a"),
        ])
        .await
        .unwrap();
    assert!(
        store
            .compare_and_swap(&p, b"b", Some(b"2"), Some(b"3"))
            .await
            .unwrap()
            .is_swapped()
    );
    store.close().await.unwrap();
    let store = open(&dir).await;
    assert_eq!(store.get(&p, b"a").await.unwrap(), None);
    assert_eq!(
        store.get(&p, b"b").await.unwrap().as_deref(),
        Some(&b"3"[..])
    );
    let status = store.status().await.unwrap();
    assert_eq!(
        status.get("partitions").map(String::as_str),
        Some("1"),
        "{status:?}"
    );
}
