//! Rotation writes a hint for every sealed file, and open loads those hints instead of
//! scanning the rotated data files; a damaged rotation hint falls back to a scan.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use backend_api::{Operation, Partition, PutOptions, StorageBackend};
use backend_file::{FileBackend, FileConfig};
use common::{data_files, dump, hint_files, quiet, runtime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn config(dir: &Path) -> FileConfig {
    quiet(dir).max_file_size(16 << 10)
}

/// Random puts (some with a far expiry), deletes, cross-partition batches and a
/// drop/re-create of `q`, mirrored in the models.
async fn churn(store: &FileBackend, rng: &mut StdRng, models: &mut [Model; 2], ops: usize) {
    let parts = [Partition::new("p").unwrap(), Partition::new("q").unwrap()];
    for _ in 0..ops {
        let which = rng.random_range(0..2);
        let key = format!("k{:04}", rng.random_range(0..300)).into_bytes();
        let value: Vec<u8> = (0..rng.random_range(0..200))
            .map(|_| rng.random())
            .collect();
        match rng.random_range(0..100) {
            0..60 => {
                store.put(&parts[which], &key, &value).await.unwrap();
                models[which].insert(key, value);
            }
            60..70 => {
                let ttl = PutOptions::with_ttl(Duration::from_secs(3600));
                store
                    .put_with(&parts[which], &key, &value, ttl)
                    .await
                    .unwrap();
                models[which].insert(key, value);
            }
            70..85 => {
                store.delete(&parts[which], &key).await.unwrap();
                models[which].remove(&key);
            }
            85..99 => {
                let mut batch = Vec::new();
                for _ in 0..rng.random_range(1..6) {
                    let w = rng.random_range(0..2);
                    let k = format!("k{:04}", rng.random_range(0..300)).into_bytes();
                    if rng.random_bool(0.7) {
                        batch.push(Operation::put(&parts[w], k.clone(), value.clone()));
                        models[w].insert(k, value.clone());
                    } else {
                        batch.push(Operation::delete(&parts[w], k.clone()));
                        models[w].remove(&k);
                    }
                }
                store.batch(batch).await.unwrap();
            }
            _ => {
                store.drop_partition(&parts[1]).await.unwrap();
                store.create_partition(&parts[1]).await.unwrap();
                models[1].clear();
            }
        }
    }
}

async fn check(store: &FileBackend, models: &[Model; 2]) {
    let p = Partition::new("p").unwrap();
    let q = Partition::new("q").unwrap();
    assert_eq!(dump(store, &p).await.unwrap(), models[0]);
    assert_eq!(dump(store, &q).await.unwrap(), models[1]);
}

#[test]
fn reopen_loads_a_hint_for_every_rotated_file_and_equals_the_model() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let mut rng = StdRng::seed_from_u64(0x5EA1);
        let mut models = [Model::new(), Model::new()];
        let store = FileBackend::open(config(dir.path())).await.unwrap();
        for name in ["p", "q"] {
            store
                .create_partition(&Partition::new(name).unwrap())
                .await
                .unwrap();
        }
        churn(&store, &mut rng, &mut models, 3_000).await;
        check(&store, &models).await;
        store.close().await.unwrap();

        for round in 0..3 {
            let data = data_files(dir.path()).len();
            let hints = hint_files(dir.path()).len();
            assert!(
                data >= 10,
                "round {round}: only {data} data files: no rotation to test"
            );
            // Every file but the active (newest) one is sealed and has its hint.
            assert_eq!(hints, data - 1, "round {round}");
            let store = FileBackend::open(config(dir.path())).await.unwrap();
            let report = store.recovery_report().clone();
            assert_eq!(report.hints_loaded, data - 1, "round {round}: {report:?}");
            assert_eq!(report.files_scanned, 1, "round {round}: {report:?}");
            assert!(report.hints_rejected.is_empty(), "{report:?}");
            let status = store.status().await.unwrap();
            assert_eq!(status["recovery_hints_loaded"], (data - 1).to_string());
            check(&store, &models).await;
            // More writes on the reopened store rotate again; their hints count too.
            churn(&store, &mut rng, &mut models, 1_000).await;
            let written: u64 = store.status().await.unwrap()["rotation_hints_written"]
                .parse()
                .unwrap();
            check(&store, &models).await;
            store.close().await.unwrap();
            assert!(
                hint_files(dir.path()).len() as u64 >= hints as u64 + written.min(1),
                "round {round}"
            );
        }
    });
}

#[test]
fn a_damaged_rotation_hint_falls_back_to_scanning_its_data_file() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let mut rng = StdRng::seed_from_u64(7);
        let mut models = [Model::new(), Model::new()];
        let store = FileBackend::open(config(dir.path())).await.unwrap();
        for name in ["p", "q"] {
            store
                .create_partition(&Partition::new(name).unwrap())
                .await
                .unwrap();
        }
        churn(&store, &mut rng, &mut models, 1_500).await;
        store.close().await.unwrap();

        let hints = hint_files(dir.path());
        assert!(hints.len() >= 3);
        // Flip one bit in the middle of one hint, truncate another, delete a third.
        let mut bytes = std::fs::read(&hints[0]).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(&hints[0], bytes).unwrap();
        let len = std::fs::metadata(&hints[1]).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&hints[1])
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        std::fs::remove_file(&hints[2]).unwrap();

        let data = data_files(dir.path()).len();
        let store = FileBackend::open(config(dir.path())).await.unwrap();
        let report = store.recovery_report().clone();
        assert_eq!(report.hints_rejected.len(), 2, "{report:?}");
        assert_eq!(
            report.files_scanned, 4,
            "three damaged hints and the active file: {report:?}"
        );
        assert_eq!(report.hints_loaded, data - 4, "{report:?}");
        check(&store, &models).await;
        store.close().await.unwrap();
    });
}

#[test]
fn concurrent_durable_writers_across_rotations_keep_every_write_and_every_hint() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let cfg = || config(dir.path()).sync_policy(backend_file::SyncPolicy::Always);
    rt.block_on(async {
        let store = std::sync::Arc::new(FileBackend::open(cfg()).await.unwrap());
        store.create_partition(&p).await.unwrap();
        let tasks: Vec<_> = (0..8u32)
            .map(|t| {
                let (store, p) = (store.clone(), p.clone());
                tokio::spawn(async move {
                    for i in 0..150u32 {
                        let key = format!("t{t}-{i:04}").into_bytes();
                        store.put(&p, &key, &[t as u8; 150]).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let expected: Model = (0..8u32)
            .flat_map(|t| {
                (0..150u32).map(move |i| (format!("t{t}-{i:04}").into_bytes(), vec![t as u8; 150]))
            })
            .collect();
        assert_eq!(dump(&store, &p).await.unwrap(), expected);
        store.close().await.unwrap();

        let data = data_files(dir.path()).len();
        assert!(data >= 10, "only {data} data files");
        let store = FileBackend::open(cfg()).await.unwrap();
        let report = store.recovery_report().clone();
        assert_eq!(
            (report.hints_loaded, report.files_scanned),
            (data - 1, 1),
            "{report:?}"
        );
        assert_eq!(dump(&store, &p).await.unwrap(), expected);
        store.close().await.unwrap();
    });
}

/// The background thread syncs the active file every sync-ahead step (1 MiB for files of
/// up to 8 MiB), so rotation's own sync of the sealed file finds little to write; the
/// data stays whole across the rotations that follow.
#[test]
fn the_active_file_is_synced_ahead_of_rotation() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let store = FileBackend::open(quiet(dir.path()).max_file_size(4 << 20))
            .await
            .unwrap();
        let p = Partition::new("p").unwrap();
        store.create_partition(&p).await.unwrap();
        let value = vec![7u8; 64 << 10];
        // 10 MiB: two rotations and several steps in each file.
        for i in 0..160u32 {
            store.put(&p, &i.to_be_bytes(), &value).await.unwrap();
        }
        let syncs = || async {
            let status = store.status().await.unwrap();
            status["syncs_ahead"].parse::<u64>().unwrap()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while syncs().await == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(syncs().await > 0, "no sync ahead after 10 MiB of writes");
        assert!(data_files(dir.path()).len() >= 3, "the writes rotated");
        for i in 0..160u32 {
            let got = store.get(&p, &i.to_be_bytes()).await.unwrap();
            assert_eq!(got.as_deref(), Some(&value[..]), "key {i}");
        }
    });
}
