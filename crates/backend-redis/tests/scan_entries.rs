//! `scan_entries` on a real server: each key with its absolute deadline (`PEXPIRETIME`),
//! the same keys, order, limit and keys-only handling as `scan`.

mod common;

use std::time::{Duration, SystemTime};

use backend_api::{Error, Partition, PutOptions, ScanRange, StorageBackend};
use futures_util::TryStreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_carry_each_keys_deadline_and_match_the_scan() {
    let store = common::open(&common::fresh_namespace()).await.unwrap();
    let p = Partition::new("p").unwrap();
    store.create_partition(&p).await.unwrap();
    let ttl = Duration::from_secs(3600);
    let before = SystemTime::now();
    store
        .put_with(&p, b"a", b"1", PutOptions::with_ttl(ttl))
        .await
        .unwrap();
    let after = SystemTime::now();
    store.put(&p, b"b", b"2").await.unwrap();
    store
        .put_with(&p, b"c", b"3", PutOptions::with_ttl(ttl))
        .await
        .unwrap();

    let entries: Vec<_> = store
        .scan_entries(&p, ScanRange::all())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let keys: Vec<_> = entries.iter().map(|e| &e.key[..]).collect();
    assert_eq!(keys, vec![&b"a"[..], b"b", b"c"]);
    let a = entries[0].expires_at.expect("a has a TTL");
    // Whole milliseconds on the server: allow one either side.
    let ms = Duration::from_millis(1);
    assert!(a + ms >= before + ttl && a <= after + ttl + ms, "{a:?}");
    assert_eq!(entries[1].expires_at, None);
    assert!(entries[2].expires_at.is_some());

    let pairs: Vec<_> = store
        .scan(&p, ScanRange::all().reverse().limit(2))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let entry_pairs: Vec<_> = store
        .scan_entries(&p, ScanRange::all().reverse().limit(2))
        .await
        .unwrap()
        .map_ok(|e| e.into_pair())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(entry_pairs, pairs);
    assert_eq!(pairs.len(), 2);

    let keys_only: Vec<_> = store
        .scan_entries(&p, ScanRange::prefix("b").keys_only())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys_only.len(), 1);
    assert!(keys_only[0].value.is_empty() && keys_only[0].expires_at.is_none());

    let missing = Partition::new("missing").unwrap();
    let err = store
        .scan_entries(&missing, ScanRange::all())
        .await
        .err()
        .expect("no such partition");
    assert!(matches!(err, Error::PartitionNotFound(_)), "{err:?}");
}
