//! Merge: reclaims dead bytes, keeps the contents (during and after, and across a
//! reopen), and runs while reads and writes go on.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use backend_api::{Partition, PutOptions, StorageBackend};
use backend_file::FileBackend;
use common::{data_files, dump, hint_files, quiet, runtime};

fn status_u64(s: &backend_api::Status, k: &str) -> u64 {
    s[k].parse().unwrap()
}

#[test]
fn merge_after_ten_overwrites_reclaims_dead_bytes_and_keeps_the_model() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let q = Partition::new("q").unwrap();
    rt.block_on(async {
        let config = quiet(dir.path()).max_file_size(4 << 20);
        let store = FileBackend::open(config.clone()).await.unwrap();
        store.create_partition(&p).await.unwrap();
        store.create_partition(&q).await.unwrap();
        let mut model = BTreeMap::new();
        for round in 0..10u32 {
            for i in 0..10_000u32 {
                let key = format!("key-{i:011}").into_bytes();
                let value = format!("{round:02}-{}", "v".repeat(97)).into_bytes();
                store.put(&p, &key, &value).await.unwrap();
                model.insert(key, value);
            }
        }
        // A few deletes and expired keys, which merge must drop too.
        for i in 0..100u32 {
            let key = format!("key-{i:011}").into_bytes();
            store.delete(&p, &key).await.unwrap();
            model.remove(&key);
        }
        store.put_with(&q, b"gone", b"soon", PutOptions::with_ttl(std::time::Duration::ZERO)).await.unwrap();
        store.put(&q, b"kept", b"yes").await.unwrap();
        let before = store.status().await.unwrap();
        let files_before = data_files(dir.path()).len();
        let stats = store.merge().await.unwrap();
        let after = store.status().await.unwrap();
        let (dead_before, dead_after) = (status_u64(&before, "dead_bytes"), status_u64(&after, "dead_bytes"));
        let reclaimed = (dead_before - dead_after) as f64 / dead_before as f64;
        eprintln!(
            "merge: {} -> {} bytes, dead {dead_before} -> {dead_after} ({:.1}% reclaimed), {files_before} -> {} files, {} us ({:.0} MB/s in)",
            stats.bytes_in,
            stats.bytes_out,
            reclaimed * 100.0,
            data_files(dir.path()).len(),
            stats.micros,
            stats.bytes_in as f64 / stats.micros as f64
        );
        assert!(reclaimed >= 0.9, "only {:.1}% of dead bytes reclaimed", reclaimed * 100.0);
        assert_eq!(status_u64(&after, "key_count"), 9_900 + 1);
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        assert_eq!(store.get(&q, b"gone").await.unwrap(), None);
        assert_eq!(store.get(&q, b"kept").await.unwrap().as_deref(), Some(&b"yes"[..]));
        // Every data file holding records has a hint; the spare file prepared for the
        // next rotation (a header, no records) is the only one without.
        let with_records = data_files(dir.path())
            .iter()
            .filter(|f| std::fs::metadata(f).unwrap().len() > 40)
            .count();
        assert_eq!(with_records, hint_files(dir.path()).len(), "every merged file has a hint");
        store.close().await.unwrap();

        let store = FileBackend::open(config).await.unwrap();
        let report = store.recovery_report();
        assert!(report.hints_loaded >= 1 && report.files_scanned == 0, "{report:?}");
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        assert_eq!(store.len(&p).await.unwrap(), 9_900);
        assert_eq!(store.get(&q, b"gone").await.unwrap(), None);
        store.close().await.unwrap();
    });
}

#[test]
fn reads_and_writes_continue_during_a_merge() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    rt.block_on(async {
        let config = quiet(dir.path()).max_file_size(256 << 10);
        let store = Arc::new(FileBackend::open(config.clone()).await.unwrap());
        store.create_partition(&p).await.unwrap();
        for round in 0..3u32 {
            for i in 0..5_000u32 {
                store
                    .put(
                        &p,
                        format!("k{i:05}").as_bytes(),
                        format!("r{round}-{i}").as_bytes(),
                    )
                    .await
                    .unwrap();
            }
        }
        // Writer: overwrites and deletes while merges run (until at least five merges
        // have finished, bounded), returns its final model.
        let merged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = {
            let store = store.clone();
            let p = p.clone();
            let merged = merged.clone();
            tokio::spawn(async move {
                let mut model: BTreeMap<Vec<u8>, Vec<u8>> = (0..5_000u32)
                    .map(|i| {
                        (
                            format!("k{i:05}").into_bytes(),
                            format!("r2-{i}").into_bytes(),
                        )
                    })
                    .collect();
                for n in 0..2_000_000u32 {
                    if n >= 6_000 && merged.load(std::sync::atomic::Ordering::SeqCst) >= 5 {
                        break;
                    }
                    if n % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                    let key = format!("k{:05}", (u64::from(n) * 7919) % 6_000).into_bytes();
                    if n % 5 == 0 {
                        store.delete(&p, &key).await.unwrap();
                        model.remove(&key);
                    } else {
                        let v = format!("w{n}").into_bytes();
                        store.put(&p, &key, &v).await.unwrap();
                        model.insert(key, v);
                    }
                    // Every read sees a value some write put there.
                    let probe = format!("k{:05}", n % 5_000);
                    if let Some(v) = store.get(&p, probe.as_bytes()).await.unwrap() {
                        assert!(v.starts_with(b"r") || v.starts_with(b"w"), "{v:?}");
                    }
                }
                model
            })
        };
        let mut merges = 0;
        while !writer.is_finished() {
            store.merge().await.unwrap();
            merges += 1;
            merged.store(merges, std::sync::atomic::Ordering::SeqCst);
        }
        let model = writer.await.unwrap();
        assert!(merges >= 5, "only {merges} merges overlapped the writes");
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.merge().await.unwrap();
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.close().await.unwrap();
        let store = FileBackend::open(config).await.unwrap();
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.close().await.unwrap();
    });
}

#[test]
fn automatic_merge_runs_past_the_dead_ratio() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    rt.block_on(async {
        let config = quiet(dir.path())
            .merge_trigger(Some(0.5))
            .merge_min_bytes(256 << 10)
            .max_file_size(64 << 10);
        let store = FileBackend::open(config).await.unwrap();
        store.create_partition(&p).await.unwrap();
        for round in 0..20u32 {
            for i in 0..500u32 {
                store
                    .put(
                        &p,
                        format!("k{i}").as_bytes(),
                        format!("{round}-{}", "x".repeat(100)).as_bytes(),
                    )
                    .await
                    .unwrap();
            }
        }
        // The merge runs on a background thread: give it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while status_u64(&store.status().await.unwrap(), "merges") == 0 {
            assert!(std::time::Instant::now() < deadline, "no automatic merge");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(store.len(&p).await.unwrap(), 500);
        assert!(
            store
                .get(&p, b"k7")
                .await
                .unwrap()
                .unwrap()
                .starts_with(b"19-")
        );
        store.close().await.unwrap();
    });
}
