//! RocksDB-specific behaviour beyond the battery: the TTL compaction filter (also
//! meeting range tombstones), CAS with sync writes, snapshot scans, range deletes with
//! open ends. (RocksDB's own `default` column family is the battery's
//! `lists_only_user_partitions`, through `Facts::reserved_partition_names`.)

use std::sync::Arc;
use std::time::Duration;

use backend_api::{KeyRange, Operation, Partition, PutOptions, ScanRange, StorageBackend};
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
async fn concurrent_cas_increments_lose_nothing_with_sync_writes() {
    cas_increments(true).await;
}

async fn cas_increments(sync: bool) {
    use backend_api::CasOutcome;
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
                        CasOutcome::Mismatch { current: now } => {
                            retries += 1;
                            assert!(retries < 1_000_000, "CAS livelock");
                            current = now;
                        }
                        _ => break,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_ended_range_deletes_reach_the_longest_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let p = partition(&store, "ends").await;
    let max = store.capabilities().max_key_len;
    let top = vec![0xFFu8; max];
    for key in [&[0x00][..], b"m", &top] {
        store.put(&p, key, b"v").await.unwrap();
    }
    store
        .batch(vec![Operation::delete_range(&p, KeyRange::from("b"))])
        .await
        .unwrap();
    assert_eq!(store.get(&p, &top).await.unwrap(), None, "open end missed");
    assert_eq!(store.len(&p).await.unwrap(), 1);
    store
        .batch(vec![Operation::delete_range(&p, KeyRange::until("b"))])
        .await
        .unwrap();
    assert!(store.is_empty(&p).await.unwrap(), "open start missed 0x00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_tombstones_meet_ttl_values_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let p = partition(&store, "rt").await;
    // Old versions in an SST file, some with a deadline, then a range tombstone over
    // them in the memtable, with a TTL put after it in the same batch.
    let long = PutOptions::with_ttl(Duration::from_secs(3600));
    store.put(&p, b"a", b"old").await.unwrap();
    store.put_with(&p, b"b", b"old", long).await.unwrap();
    store.put(&p, b"z", b"outside").await.unwrap();
    store.flush().await.unwrap();
    store
        .batch(vec![
            Operation::delete_prefix(&p, ""),
            Operation::put_with(&p, "b", "new", long),
            Operation::put(&p, "z", "outside"),
        ])
        .await
        .unwrap();
    let read = |key: &'static [u8]| {
        let store = &store;
        let p = &p;
        async move { store.get(p, key).await.unwrap() }
    };
    assert_eq!(read(b"a").await, None);
    assert_eq!(read(b"b").await.as_deref(), Some(&b"new"[..]));
    // Compaction (with the TTL filter) keeps the tombstone's effect and the later put.
    store.flush().await.unwrap();
    store.compact(&p).await.unwrap();
    assert_eq!(
        read(b"a").await,
        None,
        "compaction resurrected a range-deleted key"
    );
    assert_eq!(read(b"b").await.as_deref(), Some(&b"new"[..]));
    assert_eq!(store.len(&p).await.unwrap(), 2);
    store.close().await.unwrap();
    assert_eq!(raw_get(&dir, "rt", b"a"), None);
    let b = raw_get(&dir, "rt", b"b").expect("the put after the range delete");
    assert!(
        b[0] == 1 && b.ends_with(b"new"),
        "TTL header + value: {b:?}"
    );
}
