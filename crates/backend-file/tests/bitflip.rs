//! Flipping any single bit of a data or hint file never makes the store return wrong
//! bytes: the open fails with `Corruption`, or a read of the damaged record does, or a
//! damaged hint is ignored and the data file scanned instead.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use backend_api::{Error, KeyRange, Operation, Partition, StorageBackend};
use backend_file::FileBackend;
use common::{data_files, dump, hint_files, quiet, restore, runtime, snapshot};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A small store with overwrites (an old value coming back would be wrong bytes), a
/// delete, a batch, a range delete.
async fn fill(dir: &Path, p: &Partition) -> Map {
    let store = FileBackend::open(quiet(dir)).await.unwrap();
    store.create_partition(p).await.unwrap();
    store.put(p, b"a", b"old-a").await.unwrap();
    store.put(p, b"b", b"bee").await.unwrap();
    store.put(p, b"a", b"new-a").await.unwrap();
    store.delete(p, b"b").await.unwrap();
    store
        .batch(vec![
            Operation::put(p, "c", "sea"),
            Operation::put(p, "d", "dee"),
        ])
        .await
        .unwrap();
    // A range tombstone: "e" coming back would be wrong bytes too.
    store.put(p, b"e", b"eee").await.unwrap();
    store
        .batch(vec![Operation::delete_range(
            p,
            KeyRange::between("e", "f"),
        )])
        .await
        .unwrap();
    store.close().await.unwrap();
    [
        (b"a".to_vec(), b"new-a".to_vec()),
        (b"c".to_vec(), b"sea".to_vec()),
        (b"d".to_vec(), b"dee".to_vec()),
    ]
    .into_iter()
    .collect()
}

#[derive(Debug, Default)]
struct Outcomes {
    open_refused: u32,
    read_refused: u32,
    hint_fallback: u32,
    all_correct: u32,
}

/// Opens the damaged store and checks every answer is right or a `Corruption` error.
async fn check(dir: &Path, p: &Partition, model: &Map, what: &str, out: &mut Outcomes) {
    let store = match FileBackend::open(quiet(dir)).await {
        Err(Error::Corruption { .. }) => {
            out.open_refused += 1;
            return;
        }
        Err(e) => panic!("{what}: open failed with {e} instead of Corruption"),
        Ok(s) => s,
    };
    if !store.recovery_report().hints_rejected.is_empty() {
        out.hint_fallback += 1;
    }
    let mut refused = false;
    for key in [&b"a"[..], b"b", b"c", b"d", b"e"] {
        match store.get(p, key).await {
            Ok(v) => assert_eq!(
                v.as_deref(),
                model.get(key).map(|v| &v[..]),
                "{what}: get {key:?}"
            ),
            Err(Error::Corruption { .. }) => refused = true,
            Err(e) => panic!("{what}: get failed with {e}"),
        }
    }
    match dump(&store, p).await {
        Ok(m) => assert_eq!(&m, model, "{what}: scan"),
        Err(Error::Corruption { .. }) => refused = true,
        Err(Error::PartitionNotFound(_)) => refused = true,
        Err(e) => panic!("{what}: scan failed with {e}"),
    }
    if refused {
        out.read_refused += 1
    } else {
        out.all_correct += 1
    }
    store.close().await.unwrap();
}

fn flip_every_bit(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    file: &Path,
    p: &Partition,
    model: &Map,
) -> Outcomes {
    let snap = snapshot(dir);
    let original = std::fs::read(file).unwrap();
    let mut out = Outcomes::default();
    for bit in 0..original.len() * 8 {
        restore(dir, &snap);
        let mut bytes = original.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(file, &bytes).unwrap();
        let what = format!("{} bit {bit}", file.file_name().unwrap().to_string_lossy());
        rt.block_on(check(dir, p, model, &what, &mut out));
    }
    restore(dir, &snap);
    out
}

#[test]
fn bit_flips_in_a_data_file_are_refused() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let model = rt.block_on(fill(dir.path(), &p));
    let file = data_files(dir.path())[0].clone();
    let out = flip_every_bit(&rt, dir.path(), &file, &p, &model);
    // Without a hint every record is checked at open: every flip is refused there.
    assert_eq!(out.all_correct + out.read_refused, 0, "{out:?}");
}

#[test]
fn bit_flips_in_a_merged_file_or_its_hint_never_return_wrong_bytes() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let model = rt.block_on(async {
        let model = fill(dir.path(), &p).await;
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.merge().await.unwrap();
        store.close().await.unwrap();
        model
    });
    let (data, hints) = (data_files(dir.path()), hint_files(dir.path()));
    assert_eq!(
        (data.len(), hints.len()),
        (1, 1),
        "one merged file with its hint"
    );

    // The hint: every flip is caught by its checksum and the data file scanned instead.
    let out = flip_every_bit(&rt, dir.path(), &hints[0], &p, &model);
    assert_eq!(out.open_refused + out.read_refused, 0, "{out:?}");
    assert_eq!(out.hint_fallback, out.all_correct, "{out:?}");

    // The merged data file, opened through its (intact) hint: a flip in a value shows up
    // as a Corruption on read; header flips are refused at open.
    let out = flip_every_bit(&rt, dir.path(), &data[0], &p, &model);
    assert!(out.read_refused > 0, "{out:?}");
    eprintln!("merged data file flips: {out:?}");
}
