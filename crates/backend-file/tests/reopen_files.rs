//! Open never appends to a data file it found (it starts a new active file on the
//! first write), so repeated open and close must not leave a growing number of files:
//! a session without writes leaves none, a session with writes one, merge folds them
//! back together, and the contents survive every round.

mod common;

use std::collections::BTreeMap;

use backend_api::{Partition, StorageBackend};
use backend_file::FileBackend;
use common::{data_files, dump, hint_files, quiet, runtime};

#[test]
fn repeated_open_and_close_leave_no_empty_files_and_merge_folds_the_rest() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let mut model = BTreeMap::new();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        store.close().await.unwrap();
        let base = data_files(dir.path()).len();
        assert_eq!(base, 1, "one file for the partition record");

        // Sessions without a write: no file is added.
        for round in 0..5 {
            let store = FileBackend::open(quiet(dir.path())).await.unwrap();
            assert_eq!(dump(&store, &p).await.unwrap(), model);
            store.close().await.unwrap();
            assert_eq!(data_files(dir.path()).len(), base, "round {round}");
        }

        // Sessions with writes: one new file each, never an append to a found one.
        for round in 0..5u32 {
            let store = FileBackend::open(quiet(dir.path())).await.unwrap();
            let key = format!("k{round}").into_bytes();
            store.put(&p, &key, b"v").await.unwrap();
            model.insert(key, b"v".to_vec());
            store.close().await.unwrap();
            let files = data_files(dir.path()).len();
            assert_eq!(files, base + 1 + round as usize, "round {round}");
            // Every file but the newest has its hint (written by the sealer or close).
            assert_eq!(hint_files(dir.path()).len(), files - 1, "round {round}");
        }

        // A merge folds the small files into one (plus the new, still empty, active
        // file, which close removes).
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.compact(&p).await.unwrap();
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.close().await.unwrap();
        assert_eq!(
            data_files(dir.path()).len(),
            1,
            "{:?}",
            data_files(dir.path())
        );
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        assert_eq!(dump(&store, &p).await.unwrap(), model);
        store.close().await.unwrap();
    });
}
