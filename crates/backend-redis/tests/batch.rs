//! The batch script against a model: random batches over two partitions, with repeated
//! keys (put then delete, delete then put, TTL put then plain put), range deletes in
//! between, binary keys, and a watcher on a second handle that must see every operation in order; plus missing
//! partitions, batches larger than one server command may take, and TTL puts.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use backend_api::{
    Bytes, Error, KeyRange, Operation, Partition, PutOptions, ScanRange, StorageBackend, WatchEvent,
};
use futures_util::{StreamExt, TryStreamExt};

/// xorshift64: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const KEYS: [&[u8]; 6] = [b"a", b"\x00", b"\xff\x00", b"k:1", b"-", b"P1:1:"];

async fn contents(store: &dyn StorageBackend, p: &Partition) -> BTreeMap<Bytes, Bytes> {
    store
        .scan(p, ScanRange::all())
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_batches_match_a_model_and_a_second_handle_watches_every_op_in_order() {
    let ns = common::fresh_namespace();
    let writer = common::open(&ns).await.unwrap();
    let reader = common::open(&ns).await.unwrap();
    let parts = [
        Partition::new("one").unwrap(),
        Partition::new("two").unwrap(),
    ];
    for p in &parts {
        writer.create_partition(p).await.unwrap();
    }
    let mut watches = Vec::new();
    for p in &parts {
        watches.push(reader.watch(p, b"").await.unwrap());
    }
    let mut models: [BTreeMap<Bytes, Bytes>; 2] = Default::default();
    let mut expected: [Vec<WatchEvent>; 2] = Default::default();
    let seed = 0x5eed_0001u64;
    let mut rng = Rng(seed);
    for round in 0..150 {
        let mut ops = Vec::new();
        for _ in 0..1 + rng.below(12) {
            let which = rng.below(2);
            let p = &parts[which];
            let key = Bytes::from_static(KEYS[rng.below(KEYS.len())]);
            let value = Bytes::from(format!("v{round}:{}\x00\u{ff}", rng.next() % 1000));
            let op = match rng.below(11) {
                0..=5 => Operation::put(p, key.clone(), value.clone()),
                6 => Operation::put_with(
                    p,
                    key.clone(),
                    value.clone(),
                    PutOptions::with_ttl(Duration::from_secs(3600)),
                ),
                7 => Operation::put_with(
                    p,
                    key.clone(),
                    value.clone(),
                    PutOptions::with_ttl(Duration::ZERO),
                ),
                8 => {
                    let (a, b) = (KEYS[rng.below(KEYS.len())], KEYS[rng.below(KEYS.len())]);
                    let range = match rng.below(4) {
                        0 => KeyRange::between(a, b),
                        1 => KeyRange::from(a),
                        2 => KeyRange::until(b),
                        _ => KeyRange::prefix(&a[..1]),
                    };
                    Operation::delete_range(p, range)
                }
                _ => Operation::delete(p, key.clone()),
            };
            match &op {
                Operation::Put { options, .. } if options.ttl != Some(Duration::ZERO) => {
                    models[which].insert(key.clone(), value.clone());
                    expected[which].push(WatchEvent::Put { key, value });
                }
                Operation::DeleteRange { range, .. } => {
                    let before = models[which].len();
                    models[which].retain(|k, _| !range.contains(k));
                    if models[which].len() < before {
                        expected[which].push(WatchEvent::RangeDeleted {
                            range: range.clone(),
                        });
                    }
                }
                _ => {
                    // A delete of an absent key publishes nothing.
                    if models[which].remove(&key).is_some() {
                        expected[which].push(WatchEvent::Delete { key });
                    }
                }
            }
            ops.push(op);
        }
        writer.batch(ops).await.unwrap();
        // The index holds exactly the live keys (no TTL expires here), checked before
        // any scan could reclaim a stale entry.
        let status = reader.status().await.unwrap();
        for (which, p) in parts.iter().enumerate() {
            assert_eq!(
                status.get(&format!("partition.{p}.index_entries")),
                Some(&models[which].len().to_string()),
                "seed {seed:#x} round {round} partition {p}"
            );
        }
        for (which, p) in parts.iter().enumerate() {
            assert_eq!(
                contents(&reader, p).await,
                models[which],
                "seed {seed:#x} round {round} partition {p}"
            );
            for key in KEYS {
                assert_eq!(
                    reader.get(p, key).await.unwrap(),
                    models[which].get(key).cloned(),
                    "seed {seed:#x} round {round} key {key:?}"
                );
            }
        }
    }
    for (which, watch) in watches.iter_mut().enumerate() {
        let mut seen = Vec::new();
        while seen.len() < expected[which].len() {
            let item = tokio::time::timeout(Duration::from_secs(10), watch.next())
                .await
                .expect("every event arrives")
                .expect("the watch stays open")
                .unwrap();
            seen.push(item);
        }
        assert_eq!(seen, expected[which], "partition {which}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_partition_anywhere_in_the_batch_writes_nothing() {
    let store = common::open(&common::fresh_namespace()).await.unwrap();
    let p = Partition::new("here").unwrap();
    let gone = Partition::new("gone").unwrap();
    store.create_partition(&p).await.unwrap();
    store.put(&p, b"old", b"1").await.unwrap();
    let err = store
        .batch(vec![
            Operation::put(&p, &b"new"[..], &b"2"[..]),
            Operation::delete(&p, &b"old"[..]),
            Operation::put(&gone, &b"x"[..], &b"3"[..]),
            Operation::put(&p, &b"later"[..], &b"4"[..]),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PartitionNotFound(name) if name == "gone"),
        "{err:?}"
    );
    assert_eq!(
        contents(&store, &p).await,
        BTreeMap::from([(Bytes::from_static(b"old"), Bytes::from_static(b"1"))])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_larger_than_one_server_command_apply_whole() {
    let store = common::open(&common::fresh_namespace()).await.unwrap();
    let p = Partition::new("big").unwrap();
    let q = Partition::new("other").unwrap();
    store.create_partition(&p).await.unwrap();
    store.create_partition(&q).await.unwrap();
    let n = 5000;
    let key = |i: usize| Bytes::from(format!("k{i:05}"));
    let ops = (0..n)
        .map(|i| Operation::put(if i % 5 == 0 { &q } else { &p }, key(i), key(i)))
        .collect();
    store.batch(ops).await.unwrap();
    assert_eq!(store.len(&p).await.unwrap(), 4000);
    assert_eq!(store.len(&q).await.unwrap(), 1000);
    // Delete every other key of p and re-put some of them in the same batch.
    let mut ops: Vec<Operation> = (0..n)
        .filter(|i| i % 5 != 0 && i % 2 == 0)
        .map(|i| Operation::delete(&p, key(i)))
        .collect();
    ops.extend(
        (0..n)
            .filter(|i| i % 10 == 2)
            .map(|i| Operation::put(&p, key(i), &b"again"[..])),
    );
    store.batch(ops).await.unwrap();
    // Counted before the scan, which would reclaim stale index entries.
    let status = store.status().await.unwrap();
    let now = contents(&store, &p).await;
    for i in (0..n).filter(|i| i % 5 != 0) {
        let want = match (i % 2, i % 10) {
            (_, 2) => Some(Bytes::from_static(b"again")),
            (0, _) => None,
            _ => Some(key(i)),
        };
        assert_eq!(now.get(&key(i)).cloned(), want, "{i}");
    }
    assert_eq!(
        status
            .get("partition.big.index_entries")
            .map(String::as_str),
        Some(now.len().to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_puts_in_a_batch_expire_and_a_later_plain_put_clears_the_ttl() {
    let store = common::open(&common::fresh_namespace()).await.unwrap();
    let p = Partition::new("ttl").unwrap();
    store.create_partition(&p).await.unwrap();
    let short = PutOptions::with_ttl(Duration::from_millis(50));
    store
        .batch(vec![
            Operation::put_with(&p, &b"brief"[..], &b"1"[..], short),
            Operation::put_with(&p, &b"kept"[..], &b"2"[..], short),
            Operation::put(&p, &b"kept"[..], &b"3"[..]),
            Operation::put(&p, &b"plain"[..], &b"4"[..]),
            Operation::put_with(&p, &b"plain"[..], &b"5"[..], short),
        ])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get(&p, b"brief").await.unwrap(), None);
    assert_eq!(store.get(&p, b"plain").await.unwrap(), None);
    assert_eq!(
        contents(&store, &p).await,
        BTreeMap::from([(Bytes::from_static(b"kept"), Bytes::from_static(b"3"))])
    );
    // The scan reclaimed the expired entries: the index is honest again.
    let status = store.status().await.unwrap();
    assert_eq!(
        status
            .get("partition.ttl.index_entries")
            .map(String::as_str),
        Some("1")
    );
}
