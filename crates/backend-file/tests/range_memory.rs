//! A range delete of 200k keys runs in bounded memory: no allocation during it comes
//! near the size of a list of its keys (measured with a counting global allocator), and
//! watchers get exactly one `RangeDeleted` event.
//!
//! This file is its own test binary with a single test, so the allocator sees only it.

mod common;

use backend_api::{KeyRange, Operation, Partition, StorageBackend, WatchEvent};
use backend_file::FileBackend;
use common::counting::{Counting, largest_during};
use common::{quiet, runtime};
use futures_util::StreamExt;

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEYS: u32 = 200_000;

#[test]
fn a_huge_range_delete_allocates_nothing_proportional_to_the_range() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    let store = rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        store.create_partition(&p).await.unwrap();
        for chunk in 0..KEYS / 1000 {
            let ops = (chunk * 1000..(chunk + 1) * 1000)
                .map(|i| Operation::put(&p, format!("k{i:08}"), "v"))
                .collect();
            store.batch(ops).await.unwrap();
        }
        store.put(&p, b"z", b"outside").await.unwrap();
        store
    });
    let mut watch = rt.block_on(store.watch(&p, b"")).unwrap();
    let range = KeyRange::prefix("k");
    let ((), largest) = largest_during(|| {
        rt.block_on(async {
            store
                .batch(vec![Operation::delete_range(&p, range.clone())])
                .await
                .unwrap();
        })
    });
    eprintln!("largest allocation during a range delete of {KEYS} keys: {largest} bytes");
    // A Vec of the range's keys (16-byte `Bytes` handles or more each) would be 3.2 MB.
    assert!(
        largest < 64 << 10,
        "an allocation of {largest} bytes during a range delete of {KEYS} keys"
    );
    rt.block_on(async {
        assert_eq!(store.len(&p).await.unwrap(), 1);
        assert_eq!(
            watch.next().await.unwrap().unwrap(),
            WatchEvent::RangeDeleted { range }
        );
        store.put(&p, b"after", b"1").await.unwrap();
        assert!(matches!(
            watch.next().await.unwrap().unwrap(),
            WatchEvent::Put { key, .. } if &key[..] == b"after"
        ));
        store.close().await.unwrap();
        let store = FileBackend::open(quiet(dir.path())).await.unwrap();
        assert_eq!(store.len(&p).await.unwrap(), 2);
        store.close().await.unwrap();
    });
}
