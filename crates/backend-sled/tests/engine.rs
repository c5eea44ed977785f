//! sled-specific behaviour beyond the battery: durable flush with blob files, what sled
//! cannot do atomically. (sled's own `__sled__default` tree is the battery's
//! `lists_only_user_partitions`, through `Facts::reserved_partition_names`.)

use backend_api::{Check, Error, Operation, Partition, StorageBackend};
use backend_sled::{SledBackend, SledConfig};
use tempfile::TempDir;

async fn open(dir: &TempDir) -> SledBackend {
    SledBackend::open(SledConfig::new(dir.path()).cache_capacity(16 << 20))
        .await
        .expect("open")
}

async fn partition(store: &SledBackend, name: &str) -> Partition {
    let p = Partition::new(name).unwrap();
    store.create_partition(&p).await.unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_syncs_blob_files_and_reopen_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    // No background flusher: only flush() (and close) make writes durable.
    let config = SledConfig::new(dir.path())
        .cache_capacity(16 << 20)
        .flush_every_ms(None);
    let store = SledBackend::open(config.clone()).await.unwrap();
    let p = partition(&store, "big").await;
    // Values above sled's blob threshold (segment size / 4) go to files in blobs/.
    let big = vec![7u8; 300 << 10];
    for i in 0u8..3 {
        store.put(&p, &[i], &big).await.unwrap();
        store.flush().await.unwrap();
    }
    let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert!(blobs >= 1, "no blob files: the test does not exercise them");
    store.flush().await.unwrap();
    store.close().await.unwrap();
    let store = SledBackend::open(config).await.unwrap();
    for i in 0u8..3 {
        assert_eq!(
            store.get(&p, &[i]).await.unwrap().as_deref(),
            Some(&big[..])
        );
    }
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_deletes_are_unsupported_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    assert!(!store.capabilities().range_delete);
    let p = partition(&store, "r").await;
    store.put(&p, b"a", b"1").await.unwrap();
    let ops = vec![
        Operation::put(&p, "b", "2"),
        Operation::delete_prefix(&p, ""),
    ];
    let err = store.batch(ops.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    let err = store
        .conditional_batch(vec![Check::equals(&p, "a", "1")], ops)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(store.get(&p, b"b").await.unwrap(), None);
    assert_eq!(store.len(&p).await.unwrap(), 1);
}
