//! Range tombstones on disk: they hide exactly the older keys of their range after a
//! reopen from scanned files, from hint files and after merges; a store of format
//! version 1 still opens (and is never appended to with version-2 records); a file of
//! an unknown version, or a range record in a version-1 file, is refused as corruption.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use backend_api::{Error, KeyRange, Operation, Partition, StorageBackend};
use backend_file::format::{FILE_HEADER_LEN, FileHeader, VERSION};
use backend_file::{FileBackend, FileConfig};
use common::{data_files, dump, hint_files, quiet, runtime};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u32) -> Vec<u8> {
    format!("k{i:04}").into_bytes()
}

/// Puts `k0000..k{n}` with values tagged `tag`.
async fn fill(store: &FileBackend, p: &Partition, n: u32, tag: &str, model: &mut Map) {
    let ops = (0..n)
        .map(|i| {
            let v = format!("{tag}-{i}-{}", "v".repeat(40));
            model.insert(key(i), v.clone().into_bytes());
            Operation::put(p, key(i), v)
        })
        .collect();
    store.batch(ops).await.unwrap();
}

fn remove_range(model: &mut Map, start: u32, end: u32) {
    model.retain(|k, _| !(k.as_slice() >= &key(start)[..] && k.as_slice() < &key(end)[..]));
}

/// Reopens, compares with `model`, and returns how many data files open had to scan
/// (the others were loaded from their hints).
async fn reopen_and_check(dir: &Path, config: FileConfig, p: &Partition, model: &Map) -> usize {
    let store = FileBackend::open(config).await.unwrap();
    let scanned = store.recovery_report().files_scanned;
    assert_eq!(&dump(&store, p).await.unwrap(), model);
    assert_eq!(store.len(p).await.unwrap(), model.len() as u64);
    store.close().await.unwrap();
    assert!(dir.exists());
    scanned
}

#[test]
fn range_tombstones_survive_reopen_from_scans_hints_and_merges() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let other = Partition::new("other").unwrap();
    // Small files: the tombstones land in sealed files that get hints.
    let config = || quiet(dir.path()).max_file_size(8 << 10);
    let mut model = Map::new();
    let mut untouched = Map::new();
    rt.block_on(async {
        let store = FileBackend::open(config()).await.unwrap();
        store.create_partition(&p).await.unwrap();
        store.create_partition(&other).await.unwrap();
        fill(&store, &p, 300, "a", &mut model).await;
        fill(&store, &other, 50, "o", &mut untouched).await;
        // A put before the range in the same batch is removed, one after survives.
        store
            .batch(vec![
                Operation::put(&p, key(20), "before"),
                Operation::delete_range(&p, KeyRange::between(key(10), key(60))),
                Operation::put(&p, key(30), "after"),
            ])
            .await
            .unwrap();
        remove_range(&mut model, 10, 60);
        model.insert(key(30), b"after".to_vec());
        // A standalone range delete, and a prefix delete.
        store
            .batch(vec![Operation::delete_range(&p, KeyRange::from(key(280)))])
            .await
            .unwrap();
        remove_range(&mut model, 280, 10_000);
        store
            .batch(vec![Operation::delete_prefix(&p, "k01")])
            .await
            .unwrap();
        remove_range(&mut model, 100, 200);
        // Roll the tombstones' file into a sealed one: its hint must carry them.
        let filler = Partition::new("filler").unwrap();
        store.create_partition(&filler).await.unwrap();
        for round in 0..4 {
            fill(&store, &filler, 100, &format!("f{round}"), &mut Map::new()).await;
        }
        // Rewrites after the tombstones survive them.
        store.put(&p, &key(150), b"again").await.unwrap();
        model.insert(key(150), b"again".to_vec());
        fill(&store, &p, 5, "late", &mut model).await;
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.close().await.unwrap();
    });
    assert!(
        hint_files(dir.path()).len() >= 2,
        "rotation should have sealed files with hints"
    );
    let scanned = rt.block_on(reopen_and_check(dir.path(), config(), &p, &model));
    assert!(
        scanned <= 1,
        "only the active file is scanned, not {scanned}"
    );
    rt.block_on(async {
        let store = FileBackend::open(config()).await.unwrap();
        assert_eq!(dump(&store, &other).await.unwrap(), untouched);
        // Without hints: every data file scanned.
        store.close().await.unwrap();
    });
    for h in hint_files(dir.path()) {
        std::fs::remove_file(h).unwrap();
    }
    rt.block_on(reopen_and_check(dir.path(), config(), &p, &model));
    // A merge drops the tombstones together with every file older than them.
    rt.block_on(async {
        let store = FileBackend::open(config()).await.unwrap();
        store.merge().await.unwrap();
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.close().await.unwrap();
    });
    rt.block_on(reopen_and_check(dir.path(), config(), &p, &model));
}

#[test]
fn a_tombstone_written_during_later_files_hides_keys_in_merged_files() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let config = || quiet(dir.path()).max_file_size(8 << 10);
    let mut model = Map::new();
    rt.block_on(async {
        let store = FileBackend::open(config()).await.unwrap();
        store.create_partition(&p).await.unwrap();
        fill(&store, &p, 200, "a", &mut model).await;
        // The keys now live in merge outputs; the tombstone goes to a newer file.
        store.merge().await.unwrap();
        store
            .batch(vec![Operation::delete_prefix(&p, "k00")])
            .await
            .unwrap();
        remove_range(&mut model, 0, 100);
        fill(&store, &p, 20, "b", &mut model).await;
        // Push the tombstone's file into a sealed one with a hint.
        let filler = Partition::new("filler").unwrap();
        store.create_partition(&filler).await.unwrap();
        fill(&store, &filler, 300, "f", &mut Map::new()).await;
        store.close().await.unwrap();
    });
    rt.block_on(reopen_and_check(dir.path(), config(), &p, &model));
}

#[test]
fn a_range_delete_in_a_torn_batch_is_dropped_with_its_batch() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let mut model = Map::new();
    let before = rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        fill(&store, &p, 50, "a", &mut model).await;
        let size = std::fs::metadata(&data_files(dir.path())[0]).unwrap().len();
        store
            .batch(vec![
                Operation::delete_range(&p, KeyRange::all()),
                Operation::put(&p, "z", "after"),
            ])
            .await
            .unwrap();
        store.close().await.unwrap();
        size
    });
    let file = data_files(dir.path())[0].clone();
    let full = std::fs::metadata(&file).unwrap().len();
    for cut in before..full {
        let bytes = std::fs::read(&file).unwrap();
        let copy = tempfile::tempdir().unwrap();
        let name = file.file_name().unwrap();
        std::fs::write(copy.path().join(name), &bytes[..cut as usize]).unwrap();
        rt.block_on(async {
            let store = FileBackend::open(quiet(copy.path())).await.unwrap();
            assert_eq!(dump(&store, &p).await.unwrap(), model, "cut at {cut}");
            store.close().await.unwrap();
        });
    }
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        let all = dump(&store, &p).await.unwrap();
        assert_eq!(
            all,
            [(b"z".to_vec(), b"after".to_vec())].into_iter().collect()
        );
        store.close().await.unwrap();
    });
}

/// Rewrites the header of data file `file` with `version` (checksum recomputed).
fn set_version(file: &Path, version: u16) {
    let mut bytes = std::fs::read(file).unwrap();
    let mut header = FileHeader::decode(&bytes[..FILE_HEADER_LEN]).unwrap();
    header.version = version;
    bytes[..FILE_HEADER_LEN].copy_from_slice(&header.encode());
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn version_one_stores_open_and_unknown_versions_are_refused() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let mut model = Map::new();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        fill(&store, &p, 10, "a", &mut model).await;
        store.close().await.unwrap();
    });
    // What version 1 wrote (no range records): still opens, and the next write starts
    // a new file of the current version instead of appending to the old one.
    let old = data_files(dir.path())[0].clone();
    set_version(&old, 1);
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store
            .batch(vec![Operation::delete_range(
                &p,
                KeyRange::between(key(2), key(5)),
            )])
            .await
            .unwrap();
        remove_range(&mut model, 2, 5);
        store.close().await.unwrap();
    });
    let files = data_files(dir.path());
    assert_eq!(files.len(), 2, "a new file for the range record: {files:?}");
    let header =
        |f: &Path| FileHeader::decode(&std::fs::read(f).unwrap()[..FILE_HEADER_LEN]).unwrap();
    assert_eq!(header(&files[0]).version, 1);
    assert_eq!(header(&files[1]).version, VERSION);
    rt.block_on(reopen_and_check(dir.path(), quiet(dir.path()), &p, &model));

    // A range record inside a version-1 file cannot have been written by version 1.
    // (The reopen sealed the newest file and wrote its hint; without the hint open
    // scans the file, which is where the version is checked against the records.)
    let newest = files[1].clone();
    std::fs::remove_file(newest.with_extension("hint")).unwrap();
    set_version(&newest, 1);
    match rt.block_on(FileBackend::open(quiet(dir.path()))) {
        Err(Error::Corruption { detail }) => {
            assert!(detail.contains("range tombstone"), "{detail}")
        }
        other => panic!("expected Corruption, got {other:?}"),
    }
    // A version this build does not know (what a version-1 build sees in a version-2
    // store): a typed error naming the version, never a misread.
    set_version(&newest, VERSION + 1);
    match rt.block_on(FileBackend::open(quiet(dir.path()))) {
        Err(e @ Error::UnsupportedVersion { found, .. }) => {
            assert_eq!(found, u64::from(VERSION + 1));
            let name = newest.file_name().unwrap().to_string_lossy().into_owned();
            assert!(e.to_string().contains(&name), "{e}");
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    // Repair mode never drops a file it cannot read.
    match rt.block_on(FileBackend::open(quiet(dir.path()).repair(true))) {
        Err(Error::UnsupportedVersion { .. }) => {}
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    assert!(newest.exists());
}
