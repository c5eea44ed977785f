//! A bad record in the middle of a file: `Corruption` naming file and offset; repair
//! mode drops it, reports it, and rewrites the store so a normal open works again.
//! Plus exclusive access.

mod common;

use backend_api::{Error, Partition, StorageBackend};
use backend_file::FileBackend;
use common::{data_files, quiet, runtime};

#[test]
fn mid_file_corruption_fails_closed_and_repair_drops_only_the_bad_record() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let mut offsets = Vec::new();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        for i in 0..10u32 {
            offsets.push(std::fs::metadata(&data_files(dir.path())[0]).unwrap().len());
            store
                .put(
                    &p,
                    format!("k{i}").as_bytes(),
                    format!("value-{i}").as_bytes(),
                )
                .await
                .unwrap();
        }
        store.close().await.unwrap();
    });
    // Damage the value of k4, in the middle of the file.
    let file = data_files(dir.path())[0].clone();
    let mut bytes = std::fs::read(&file).unwrap();
    let at = offsets[4] as usize + 40 + 2 + 3;
    bytes[at] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();

    rt.block_on(async {
        match FileBackend::open(quiet(dir.path())).await {
            Err(Error::Corruption { detail }) => {
                assert!(
                    detail.contains(&name) && detail.contains(&format!("offset {}", offsets[4])),
                    "{detail}"
                );
            }
            other => panic!("expected Corruption, got {other:?}"),
        }
        let store = FileBackend::open(quiet(dir.path()).repair(true))
            .await
            .unwrap();
        let dropped = &store.recovery_report().dropped;
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(
            (dropped[0].offset, dropped[0].bytes),
            (offsets[4], offsets[5] - offsets[4])
        );
        for i in 0..10u32 {
            let got = store.get(&p, format!("k{i}").as_bytes()).await.unwrap();
            let want = (i != 4).then(|| format!("value-{i}").into_bytes());
            assert_eq!(got.as_deref(), want.as_deref(), "k{i}");
        }
        store.close().await.unwrap();
        // Repair rewrote the files: a normal open works and agrees.
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        assert_eq!(store.len(&p).await.unwrap(), 9);
        store.close().await.unwrap();
    });
}

#[test]
fn a_second_open_is_locked_until_the_first_closes() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let first = FileBackend::open(quiet(dir.path())).await.unwrap();
        assert!(matches!(
            FileBackend::open(quiet(dir.path())).await,
            Err(Error::Locked { .. })
        ));
        first.close().await.unwrap();
        let second = FileBackend::open(quiet(dir.path())).await.unwrap();
        second.close().await.unwrap();
    });
}
