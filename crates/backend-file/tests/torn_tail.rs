//! Truncating the last records at every byte offset: open cuts the torn tail back to
//! the last whole record (a batch, range tombstone included, counts as one), keeps
//! everything before it, and a write made after recovery survives another reopen.

mod common;

use std::collections::BTreeMap;

use backend_api::{KeyRange, Operation, Partition, StorageBackend};
use backend_file::FileBackend;
use common::{data_files, dump, quiet, restore, runtime, snapshot};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[test]
fn every_truncation_of_the_tail_recovers_the_whole_records() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    // (end offset of the data file after the op, model after the op)
    let mut steps: Vec<(u64, Map)> = Vec::new();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        let mut model = Map::new();
        let size = || std::fs::metadata(&data_files(dir.path())[0]).unwrap().len();
        for i in 0..10u32 {
            let (k, v) = (
                format!("k{i}"),
                format!("v{i}-{}", "x".repeat(i as usize * 3)),
            );
            store.put(&p, k.as_bytes(), v.as_bytes()).await.unwrap();
            model.insert(k.into_bytes(), v.into_bytes());
        }
        steps.push((size(), model.clone()));
        // The records under test: an overwrite, a delete, a batch, a put with TTL none.
        store.put(&p, b"k0", b"overwritten").await.unwrap();
        model.insert(b"k0".to_vec(), b"overwritten".to_vec());
        steps.push((size(), model.clone()));
        store.delete(&p, b"k1").await.unwrap();
        model.remove(&b"k1"[..]);
        steps.push((size(), model.clone()));
        store
            .batch(vec![
                Operation::put(&p, "b1", "batch-one"),
                Operation::delete(&p, "k2"),
                Operation::put(&p, "k3", "batch-three"),
            ])
            .await
            .unwrap();
        model.insert(b"b1".to_vec(), b"batch-one".to_vec());
        model.remove(&b"k2"[..]);
        model.insert(b"k3".to_vec(), b"batch-three".to_vec());
        steps.push((size(), model.clone()));
        // A range tombstone between a put it hides and one it does not.
        store
            .batch(vec![
                Operation::put(&p, "k4", "hidden by the range"),
                Operation::delete_range(&p, KeyRange::between("k4", "k7")),
                Operation::put(&p, "k5", "after the range"),
            ])
            .await
            .unwrap();
        model.retain(|k, _| !(k.as_slice() >= &b"k4"[..] && k.as_slice() < &b"k7"[..]));
        model.insert(b"k5".to_vec(), b"after the range".to_vec());
        steps.push((size(), model.clone()));
        store.put(&p, b"last", b"the last record").await.unwrap();
        model.insert(b"last".to_vec(), b"the last record".to_vec());
        steps.push((size(), model.clone()));
        store.close().await.unwrap();
    });
    let snap = snapshot(dir.path());
    let file = data_files(dir.path())[0].clone();
    let (first, full) = (steps[0].0, steps.last().unwrap().0);
    let mut cuts = 0;
    for cut in first..=full {
        restore(dir.path(), &snap);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(cut)
            .unwrap();
        // The newest state whose records end at or before the cut.
        let (end, expected) = steps
            .iter()
            .rev()
            .find(|(end, _)| *end <= cut)
            .unwrap()
            .clone();
        rt.block_on(async {
            let store = FileBackend::open(quiet(dir.path()))
                .await
                .unwrap_or_else(|e| panic!("cut at {cut}: open failed: {e}"));
            let report = store.recovery_report().clone();
            if end == cut {
                assert!(
                    report.truncated.is_empty(),
                    "cut at {cut}: nothing to cut, got {report:?}"
                );
            } else {
                assert_eq!(report.truncated.len(), 1, "cut at {cut}: {report:?}");
                assert_eq!(report.truncated[0].offset, end, "cut at {cut}");
            }
            assert_eq!(dump(&store, &p).await.unwrap(), expected, "cut at {cut}");
            store.put(&p, b"after", b"recovery").await.unwrap();
            store.close().await.unwrap();
            let store = FileBackend::open(quiet(dir.path())).await.unwrap();
            assert!(
                store.recovery_report().truncated.is_empty(),
                "cut at {cut}: garbage after reopen"
            );
            let mut with = expected.clone();
            with.insert(b"after".to_vec(), b"recovery".to_vec());
            assert_eq!(
                dump(&store, &p).await.unwrap(),
                with,
                "cut at {cut}, after a write and reopen"
            );
            store.close().await.unwrap();
        });
        cuts += 1;
    }
    assert!(cuts > 150, "only {cuts} offsets tried");
}

#[test]
fn a_zeroed_tail_is_cut_like_a_torn_one() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        store.put(&p, b"k", b"v").await.unwrap();
        store.close().await.unwrap();
    });
    let file = data_files(dir.path())[0].clone();
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&file, &bytes).unwrap();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        assert_eq!(store.recovery_report().truncated[0].offset, len as u64);
        assert_eq!(
            store.get(&p, b"k").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
        store.close().await.unwrap();
    });
}
