//! The read cache's promise: it never returns a value older than the last write through
//! it (model test against the bare backend, and under concurrent readers), it never
//! serves a value past its TTL, and it declares that writes through other handles are
//! not seen.
#![cfg(feature = "cache")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Bytes, Check, KeyRange, Operation, Partition, PutOptions, StorageBackend};
use backend_layers::{CacheLayer, Layer};
use backend_mem::{MemBackend, MemConfig};
use common::{Fail, Probe, part, rt};
use proptest::prelude::*;

const PARTS: [&str; 2] = ["pa", "pb"];
const KEYS: [&[u8]; 3] = [b"k1", b"k2", b"k3"];

#[derive(Clone, Debug)]
enum Cmd {
    Put(usize, usize, u8),
    PutTtl(usize, usize, u8, bool),
    Delete(usize, usize),
    Batch(Vec<(usize, usize, Option<u8>)>, Option<(usize, usize)>),
    Cas(usize, usize, Option<u8>, Option<u8>),
    Conditional(usize, usize, Option<u8>, Vec<(usize, usize, Option<u8>)>),
    DropCreate(usize),
    Get(usize, usize),
    GetMany(usize),
}

fn val(v: u8) -> Vec<u8> {
    vec![v; 1 + v as usize % 7]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let pk = (0..2usize, 0..3usize);
    let write = (0..2usize, 0..3usize, proptest::option::of(0..4u8));
    prop_oneof![
        (pk.clone(), 0..4u8).prop_map(|((p, k), v)| Cmd::Put(p, k, v)),
        (pk.clone(), 0..4u8, any::<bool>()).prop_map(|((p, k), v, z)| Cmd::PutTtl(p, k, v, z)),
        pk.clone().prop_map(|(p, k)| Cmd::Delete(p, k)),
        (
            proptest::collection::vec(write.clone(), 0..4),
            proptest::option::of((0..2usize, 0..3usize))
        )
            .prop_map(|(w, r)| Cmd::Batch(w, r)),
        (
            pk.clone(),
            proptest::option::of(0..4u8),
            proptest::option::of(0..4u8)
        )
            .prop_map(|((p, k), e, n)| Cmd::Cas(p, k, e, n)),
        (
            pk.clone(),
            proptest::option::of(0..4u8),
            proptest::collection::vec(write, 0..3)
        )
            .prop_map(|((p, k), e, w)| Cmd::Conditional(p, k, e, w)),
        (0..2usize).prop_map(Cmd::DropCreate),
        pk.clone().prop_map(|(p, k)| Cmd::Get(p, k)),
        pk.clone().prop_map(|(p, k)| Cmd::Get(p, k)),
        (0..2usize).prop_map(Cmd::GetMany),
    ]
}

fn ops(parts: &[Partition], writes: &[(usize, usize, Option<u8>)]) -> Vec<Operation> {
    writes
        .iter()
        .map(|&(p, k, v)| match v {
            Some(v) => Operation::put(&parts[p], KEYS[k], val(v)),
            None => Operation::delete(&parts[p], KEYS[k]),
        })
        .collect()
}

async fn apply(store: &dyn StorageBackend, parts: &[Partition], cmd: &Cmd) {
    let key = |k: usize| KEYS[k];
    match cmd {
        Cmd::Put(p, k, v) => store.put(&parts[*p], key(*k), &val(*v)).await.unwrap(),
        Cmd::PutTtl(p, k, v, zero) => {
            let ttl = if *zero {
                Duration::ZERO
            } else {
                Duration::from_secs(3600)
            };
            store
                .put_with(&parts[*p], key(*k), &val(*v), PutOptions::with_ttl(ttl))
                .await
                .unwrap()
        }
        Cmd::Delete(p, k) => store.delete(&parts[*p], key(*k)).await.unwrap(),
        Cmd::Batch(writes, range) => {
            let mut o = ops(parts, writes);
            if let Some((p, k)) = range {
                let at = o.len() / 2;
                o.insert(
                    at,
                    Operation::delete_range(&parts[*p], KeyRange::from(key(*k))),
                );
            }
            store.batch(o).await.unwrap()
        }
        Cmd::Cas(p, k, e, n) => {
            let (e, n) = (e.map(val), n.map(val));
            store
                .compare_and_swap(&parts[*p], key(*k), e.as_deref(), n.as_deref())
                .await
                .unwrap();
        }
        Cmd::Conditional(p, k, e, writes) => {
            let check = Check::new(&parts[*p], key(*k), e.map(|v| Bytes::from(val(v))));
            store
                .conditional_batch(vec![check], ops(parts, writes))
                .await
                .unwrap();
        }
        Cmd::DropCreate(p) => {
            store.drop_partition(&parts[*p]).await.unwrap();
            store.create_partition(&parts[*p]).await.unwrap();
        }
        Cmd::Get(p, k) => {
            store.get(&parts[*p], key(*k)).await.unwrap();
        }
        Cmd::GetMany(p) => {
            let keys: Vec<Bytes> = KEYS.iter().map(|k| Bytes::from_static(k)).collect();
            store.get_many(&parts[*p], &keys).await.unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// After every command, every read through the cache (get, get_many, exists) equals
    /// a read of the bare backend, with a budget small enough that entries get evicted.
    #[test]
    fn cache_agrees_with_the_backend_after_every_write(cmds in proptest::collection::vec(cmd(), 1..40)) {
        rt().block_on(async {
            let bare: Arc<dyn StorageBackend> = Arc::new(MemBackend::open(MemConfig::default()).await.unwrap());
            let cached = CacheLayer::new(600).layer(bare.clone());
            let parts: Vec<Partition> = PARTS.iter().map(|n| part(n)).collect();
            for p in &parts {
                cached.create_partition(p).await.unwrap();
            }
            for (i, c) in cmds.iter().enumerate() {
                apply(&*cached, &parts, c).await;
                for p in &parts {
                    for k in KEYS {
                        let truth = bare.get(p, k).await.unwrap();
                        assert_eq!(cached.get(p, k).await.unwrap(), truth, "get {p} {k:?} after #{i} {c:?}");
                        assert_eq!(cached.exists(p, k).await.unwrap(), truth.is_some());
                    }
                    let keys: Vec<Bytes> = KEYS.iter().map(|k| Bytes::from_static(k)).collect();
                    assert_eq!(cached.get_many(p, &keys).await.unwrap(), bare.get_many(p, &keys).await.unwrap());
                }
            }
        });
    }
}

/// Writers own their keys and read each back right after writing it, while readers
/// hammer the same keys to provoke the fill race (a read that fetched the old value
/// storing it after the write): a writer must always read its own last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_racing_a_write_never_leaves_an_older_value() {
    let probe = Probe::new().await;
    // Reads answer 1 ms after reading: a write can start and finish in between.
    probe.read_lag(Duration::from_millis(1));
    let bare: Arc<dyn StorageBackend> = probe.clone();
    let cached = CacheLayer::new(1 << 20).layer(bare.clone());
    let p = part("race");
    cached.create_partition(&p).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4u8 {
        let (s, p) = (cached.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..150u32 {
                let key = [b'w', w, (n % 3) as u8];
                let value = n.to_be_bytes();
                match n % 4 {
                    0 => s.put(&p, &key, &value).await.unwrap(),
                    1 => s
                        .batch(vec![Operation::put(&p, key.to_vec(), value.to_vec())])
                        .await
                        .unwrap(),
                    2 => {
                        let cur = s.get(&p, &key).await.unwrap();
                        let swapped = s
                            .compare_and_swap(&p, &key, cur.as_deref(), Some(&value))
                            .await
                            .unwrap();
                        assert!(swapped.is_swapped(), "only this writer writes its keys");
                    }
                    _ => s
                        .put_with(
                            &p,
                            &key,
                            &value,
                            PutOptions::with_ttl(Duration::from_secs(60)),
                        )
                        .await
                        .unwrap(),
                }
                assert_eq!(
                    s.get(&p, &key).await.unwrap().as_deref(),
                    Some(&value[..]),
                    "writer {w} write {n}"
                );
            }
        }));
    }
    for _ in 0..4 {
        let (s, p) = (cached.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..600u32 {
                let key = [b'w', (n % 4) as u8, (n % 3) as u8];
                s.get(&p, &key).await.unwrap();
                if n % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for w in 0..4u8 {
        for k in 0..3u8 {
            let key = [b'w', w, k];
            assert_eq!(
                cached.get(&p, &key).await.unwrap(),
                bare.get(&p, &key).await.unwrap()
            );
        }
    }
    let status = cached.status().await.unwrap();
    assert!(
        status["cache.hits"].parse::<u64>().unwrap() > 0,
        "{status:?}"
    );
}

#[tokio::test]
async fn a_value_is_never_served_past_its_ttl() {
    let probe = Probe::new().await;
    let cached = CacheLayer::new(1 << 20).layer(probe.clone());
    let p = part("ttl");
    cached.create_partition(&p).await.unwrap();
    cached
        .put_with(
            &p,
            b"k",
            b"v",
            PutOptions::with_ttl(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    assert_eq!(
        cached.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(cached.get(&p, b"k").await.unwrap(), None);
    // A TTL'd value read back after its entry was dropped keeps its deadline: a failed
    // write drops the entry, the next read refills it from the backend.
    cached
        .put_with(
            &p,
            b"k",
            b"w",
            PutOptions::with_ttl(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    probe.fail_next(1, Fail::Backend);
    assert!(cached.put(&p, b"k", b"x").await.is_err());
    assert_eq!(
        cached.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"w"[..])
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(cached.get(&p, b"k").await.unwrap(), None);
}

#[tokio::test]
async fn writes_through_another_handle_are_not_seen_as_declared() {
    let bare: Arc<dyn StorageBackend> =
        Arc::new(MemBackend::open(MemConfig::default()).await.unwrap());
    let cached = CacheLayer::new(1 << 20).layer(bare.clone());
    let p = part("other");
    cached.create_partition(&p).await.unwrap();
    cached.put(&p, b"k", b"mine").await.unwrap();
    bare.put(&p, b"k", b"theirs").await.unwrap();
    assert_eq!(
        cached.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );
    let status = cached.status().await.unwrap();
    assert_eq!(status["cache.coherence"], "this handle");
    cached.close().await.unwrap();
    assert!(matches!(
        cached.get(&p, b"k").await,
        Err(backend_api::Error::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cross_process_watch_other_writers_are_followed() {
    let probe = Probe::new().await;
    probe
        .cross_process
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let cached = CacheLayer::new(1 << 20).layer(probe.clone());
    let p = part("shared");
    cached.create_partition(&p).await.unwrap();
    cached.put(&p, b"a", b"mine").await.unwrap();
    cached.put(&p, b"b", b"mine").await.unwrap();
    assert_eq!(
        cached.get(&p, b"a").await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );
    assert_eq!(cached.status().await.unwrap()["cache.coherence"], "watch");
    // Another writer (straight to the store) changes a, deletes b, range-deletes c.
    cached.put(&p, b"c", b"mine").await.unwrap();
    cached.get(&p, b"c").await.unwrap();
    probe.put(&p, b"a", b"theirs").await.unwrap();
    probe.delete(&p, b"b").await.unwrap();
    probe
        .batch(vec![Operation::delete_range(&p, KeyRange::prefix("c"))])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let a = cached.get(&p, b"a").await.unwrap();
        let b = cached.get(&p, b"b").await.unwrap();
        let c = cached.get(&p, b"c").await.unwrap();
        if a.as_deref() == Some(&b"theirs"[..]) && b.is_none() && c.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still stale: {a:?} {b:?} {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
