//! `status()`, `partition_size` and `len` figures, and chunked scans against a model.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_api::{Bytes, Operation, Partition, PutOptions, ScanRange, StorageBackend};
use backend_mem::{ENTRY_OVERHEAD, MemBackend, MemConfig};
use futures_util::TryStreamExt;
use proptest::prelude::*;

#[tokio::test]
async fn status_counts_entries_bytes_and_partitions() {
    let db = MemBackend::open(MemConfig::default()).await.unwrap();
    let a = Partition::new("a").unwrap();
    let b = Partition::new("b").unwrap();
    db.create_partition(&a).await.unwrap();
    db.create_partition(&b).await.unwrap();
    db.put(&a, b"k1", b"12345").await.unwrap();
    db.put(&a, b"k2", b"").await.unwrap();
    db.put(&b, b"key3", &[7; 100]).await.unwrap();
    db.put(&a, b"k1", b"123").await.unwrap(); // overwrite: old size no longer counted
    let size_a = (2 + 3 + ENTRY_OVERHEAD) + (2 + ENTRY_OVERHEAD);
    let size_b = 4 + 100 + ENTRY_OVERHEAD;
    assert_eq!(db.partition_size(&a).await.unwrap(), size_a);
    assert_eq!(db.partition_size(&b).await.unwrap(), size_b);
    assert_eq!(db.used_memory(), size_a + size_b);
    let status = db.status().await.unwrap();
    assert_eq!(status["partitions"], "2");
    assert_eq!(status["entries"], "3");
    assert_eq!(status["live_keys"], "3");
    assert_eq!(status["bytes"], (size_a + size_b).to_string());
    assert_eq!(status["max_memory"], "none");
    assert_eq!(status["evictions"], "0");
    assert_eq!(status["entry_overhead_bytes"], ENTRY_OVERHEAD.to_string());

    db.delete(&a, b"k1").await.unwrap();
    db.drop_partition(&b).await.unwrap();
    assert_eq!(db.used_memory(), 2 + ENTRY_OVERHEAD);
    let status = db.status().await.unwrap();
    assert_eq!(status["partitions"], "1");
    assert_eq!(status["entries"], "1");

    db.close().await.unwrap();
    assert!(db.status().await.is_err());
    assert_eq!(db.used_memory(), 0, "close frees everything");
}

#[tokio::test]
async fn a_zero_ttl_put_deletes_the_older_value() {
    let db = MemBackend::open(MemConfig::default()).await.unwrap();
    let p = Partition::new("p").unwrap();
    db.create_partition(&p).await.unwrap();
    db.put(&p, b"k", b"v").await.unwrap();
    db.put_with(&p, b"k", b"w", PutOptions::with_ttl(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(db.get(&p, b"k").await.unwrap(), None);
    assert_eq!(db.used_memory(), 0);
    db.batch(vec![
        Operation::put(&p, &b"x"[..], &b"1"[..]),
        Operation::put_with(
            &p,
            &b"x"[..],
            &b"2"[..],
            PutOptions::with_ttl(Duration::ZERO),
        ),
    ])
    .await
    .unwrap();
    assert_eq!(db.len(&p).await.unwrap(), 0);
}

#[derive(Clone, Debug)]
enum Step {
    Put(u8, bool),
    Delete(u8),
    Scan {
        start: Option<u8>,
        end: Option<u8>,
        prefix: Option<u8>,
        reverse: bool,
        limit: Option<usize>,
        keys_only: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let key = 0..40u8;
    prop_oneof![
        4 => (key.clone(), prop::bool::weighted(0.3)).prop_map(|(k, expired)| Step::Put(k, expired)),
        1 => key.clone().prop_map(Step::Delete),
        2 => (
            prop::option::of(key.clone()),
            prop::option::of(key.clone()),
            prop::option::of(0..3u8),
            any::<bool>(),
            prop::option::of(0..12usize),
            any::<bool>(),
        )
            .prop_map(|(start, end, prefix, reverse, limit, keys_only)| Step::Scan {
                start,
                end,
                prefix,
                reverse,
                limit,
                keys_only,
            }),
    ]
}

/// Two-byte keys `[k / 10, k]` so prefixes group them.
fn key(k: u8) -> Vec<u8> {
    vec![k / 10, k]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Scans read a few pairs per lock acquisition and re-seek from the last key; with
    /// expired entries in the way they stop early on the examine budget. Whatever the
    /// chunk size, a scan must equal the model's.
    #[test]
    fn chunked_scans_match_a_model(chunk in 1usize..5, steps in prop::collection::vec(step(), 1..80)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let config = MemConfig::new()
                .scan_chunk(chunk)
                .sweep_interval(Duration::from_secs(3600));
            let db = MemBackend::open(config).await.unwrap();
            let p = Partition::new("p").unwrap();
            db.create_partition(&p).await.unwrap();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (i, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Put(k, expired) => {
                        let value = i.to_be_bytes().to_vec();
                        if expired {
                            // Already-past deadline: stored nowhere, old value gone.
                            db.put_with(&p, &key(k), &value, PutOptions::with_ttl(Duration::ZERO)).await.unwrap();
                            model.remove(&key(k));
                            // And one that expires a moment later and stays unswept.
                            let ghost = vec![k / 10, k, 0xFF];
                            db.put_with(&p, &ghost, &value, PutOptions::with_ttl(Duration::from_micros(200))).await.unwrap();
                            std::thread::sleep(Duration::from_micros(300));
                        } else {
                            db.put(&p, &key(k), &value).await.unwrap();
                            model.insert(key(k), value);
                        }
                    }
                    Step::Delete(k) => {
                        db.delete(&p, &key(k)).await.unwrap();
                        model.remove(&key(k));
                    }
                    Step::Scan { start, end, prefix, reverse, limit, keys_only } => {
                        let mut range = ScanRange::all();
                        if let Some(s) = start { range = range.start(key(s)); }
                        if let Some(e) = end { range = range.end(key(e)); }
                        if let Some(x) = prefix { range.prefix = Some(Bytes::from(vec![x])); }
                        if reverse { range = range.reverse(); }
                        if let Some(l) = limit { range = range.limit(l); }
                        if keys_only { range = range.keys_only(); }
                        let got: Vec<(Bytes, Bytes)> = db.scan(&p, range.clone()).await.unwrap().try_collect().await.unwrap();
                        let mut want: Vec<(Bytes, Bytes)> = model
                            .iter()
                            .filter(|(k, _)| range.contains(k))
                            .map(|(k, v)| (Bytes::from(k.clone()), if keys_only { Bytes::new() } else { Bytes::from(v.clone()) }))
                            .collect();
                        if reverse { want.reverse(); }
                        want.truncate(limit.unwrap_or(usize::MAX));
                        assert_eq!(got, want, "{range:?}");
                    }
                }
            }
            assert_eq!(db.len(&p).await.unwrap(), model.len() as u64);
        });
    }
}
