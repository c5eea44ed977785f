//! The write script's v2 parts on a real server: range deletes in bounded steps (large
//! ranges, order within the batch, one event only for watchers whose prefix overlaps),
//! conditional batches (which check failed and what it saw, nothing written, expired
//! is absent, concurrent transfers keep their sum), and absent deletes publish nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use backend_api::{
    BatchOutcome, Bytes, Check, KeyRange, Operation, Partition, PutOptions, StorageBackend,
    WatchEvent,
};
use futures_util::StreamExt;

async fn store_with(name: &str) -> (backend_redis::RedisBackend, Partition) {
    let store = common::open(&common::fresh_namespace()).await.unwrap();
    let p = Partition::new(name).unwrap();
    store.create_partition(&p).await.unwrap();
    (store, p)
}

/// The next event within a second, or `None` if nothing came.
async fn next_event(watch: &mut backend_api::WatchStream) -> Option<WatchEvent> {
    match tokio::time::timeout(Duration::from_millis(500), watch.next()).await {
        Ok(Some(item)) => Some(item.unwrap()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_delete_of_thousands_of_keys_runs_in_its_place_in_the_batch() {
    let (store, p) = store_with("big").await;
    let mut ops = Vec::new();
    for i in 0..5000u32 {
        ops.push(Operation::put(&p, format!("r:{i:05}"), "x"));
    }
    ops.push(Operation::put(&p, "a", "outside"));
    ops.push(Operation::put(&p, "s", "outside"));
    store.batch(ops).await.unwrap();
    let mut inside = store.watch(&p, b"r:0").await.unwrap();
    let mut outside = store.watch(&p, b"s").await.unwrap();
    store
        .batch(vec![
            Operation::put(&p, "r:before", "dies"),
            Operation::delete_prefix(&p, "r:"),
            Operation::put(&p, "r:after", "lives"),
        ])
        .await
        .unwrap();
    assert_eq!(store.len(&p).await.unwrap(), 3);
    assert_eq!(store.get(&p, b"r:before").await.unwrap(), None);
    assert_eq!(
        store.get(&p, b"r:after").await.unwrap().as_deref(),
        Some(&b"lives"[..])
    );
    assert_eq!(
        next_event(&mut inside).await,
        Some(WatchEvent::RangeDeleted {
            range: KeyRange::prefix("r:")
        })
    );
    assert_eq!(
        next_event(&mut inside).await,
        None,
        "r:before/after are outside r:0"
    );
    assert_eq!(next_event(&mut outside).await, None);
    // Nothing left in the range: no event at all.
    let mut all = store.watch(&p, b"").await.unwrap();
    store
        .batch(vec![Operation::delete_range(
            &p,
            KeyRange::between("r:0", "r:1"),
        )])
        .await
        .unwrap();
    store
        .batch(vec![Operation::delete_range(
            &p,
            KeyRange::between("z", "a"),
        )])
        .await
        .unwrap();
    assert_eq!(next_event(&mut all).await, None);
    assert_eq!(store.len(&p).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_names_itself_and_writes_nothing() {
    let (store, p) = store_with("cond").await;
    store.put(&p, b"a", b"1").await.unwrap();
    store
        .put_with(
            &p,
            b"t",
            b"v",
            PutOptions::with_ttl(Duration::from_millis(50)),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut watch = store.watch(&p, b"").await.unwrap();
    let outcome = store
        .conditional_batch(
            vec![
                Check::equals(&p, "a", "1"),
                Check::absent(&p, "t"),
                Check::absent(&p, "a"),
            ],
            vec![
                Operation::put(&p, "b", "2"),
                Operation::delete_prefix(&p, ""),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        BatchOutcome::CheckFailed {
            index: 2,
            current: Some(Bytes::from_static(b"1"))
        }
    );
    assert_eq!(store.get(&p, b"b").await.unwrap(), None);
    assert_eq!(store.len(&p).await.unwrap(), 1);
    assert_eq!(next_event(&mut watch).await, None);
    // The expired key counts as absent, and an absent-for-absent CAS writes nothing.
    assert!(
        store
            .compare_and_swap(&p, b"t", None, None)
            .await
            .unwrap()
            .is_swapped()
    );
    store.delete(&p, b"never").await.unwrap();
    store
        .batch(vec![
            Operation::delete(&p, "t"),
            Operation::delete(&p, "never"),
        ])
        .await
        .unwrap();
    assert_eq!(next_event(&mut watch).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_keep_their_sum() {
    let (store, p) = store_with("bank").await;
    let store = Arc::new(store);
    let accounts = ["x", "y", "z"];
    for a in accounts {
        store.put(&p, a.as_bytes(), b"100").await.unwrap();
    }
    let mut tasks = Vec::new();
    for t in 0..6usize {
        let (store, p) = (store.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < 20 {
                let (from, to) = (accounts[t % 3], accounts[(t + 1) % 3]);
                let values = store
                    .get_many(&p, &[Bytes::from(from), Bytes::from(to)])
                    .await
                    .unwrap();
                let parse = |v: &Option<Bytes>| -> i64 {
                    std::str::from_utf8(v.as_deref().unwrap())
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                let (a, b) = (parse(&values[0]), parse(&values[1]));
                let outcome = store
                    .conditional_batch(
                        vec![
                            Check::new(&p, from, values[0].clone()),
                            Check::new(&p, to, values[1].clone()),
                        ],
                        vec![
                            Operation::put(&p, from, (a - 1).to_string()),
                            Operation::put(&p, to, (b + 1).to_string()),
                        ],
                    )
                    .await
                    .unwrap();
                if outcome.is_applied() {
                    done += 1;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut sum = 0i64;
    for a in accounts {
        let v = store.get(&p, a.as_bytes()).await.unwrap().unwrap();
        sum += std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap();
    }
    assert_eq!(sum, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_ttls_are_accepted_and_never_expire() {
    let (store, p) = store_with("ttl").await;
    store
        .put_with(&p, b"max", b"v", PutOptions::with_ttl(Duration::MAX))
        .await
        .unwrap();
    let far = std::time::SystemTime::now() + Duration::from_secs(3600 * 24 * 365 * 5000);
    store
        .put_with(&p, b"far", b"v", PutOptions::expires_at(far))
        .await
        .unwrap();
    store
        .batch(vec![Operation::put_with(
            &p,
            "bmax",
            "v",
            PutOptions::with_ttl(Duration::MAX),
        )])
        .await
        .unwrap();
    for key in [&b"max"[..], b"far", b"bmax"] {
        assert!(store.exists(&p, key).await.unwrap(), "{key:?}");
    }
}
