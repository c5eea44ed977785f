//! The namespace layer's promise: applications under different namespaces share one
//! store without seeing each other's partitions; names up to 64 characters work and are
//! listed under the caller's name.

mod common;

use std::sync::Arc;

use backend_api::{Error, Operation, Partition, StorageBackend};
use backend_layers::{Layer, NamespaceLayer};
use backend_mem::{MemBackend, MemConfig};
use common::part;

#[tokio::test]
async fn namespaces_share_a_store_unseen() {
    let bare: Arc<dyn StorageBackend> =
        Arc::new(MemBackend::open(MemConfig::default()).await.unwrap());
    let a = NamespaceLayer::new("appA").unwrap().layer(bare.clone());
    let b = NamespaceLayer::new("appB").unwrap().layer(bare.clone());
    let users = part("users");
    a.create_partition(&users).await.unwrap();
    b.create_partition(&users).await.unwrap();
    a.put(&users, b"k", b"from a").await.unwrap();
    assert_eq!(b.get(&users, b"k").await.unwrap(), None);
    assert_eq!(a.list_partitions().await.unwrap(), vec![users.clone()]);
    let inner: Vec<String> = bare
        .list_partitions()
        .await
        .unwrap()
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    assert_eq!(inner, ["appA_users", "appB_users"]);
    let only_a = part("only_a");
    a.create_partition(&only_a).await.unwrap();
    match b.batch(vec![Operation::put(&only_a, "k", "v")]).await {
        Err(Error::PartitionNotFound(name)) => {
            assert_eq!(name, "only_a", "errors name the caller's partition")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn names_too_long_for_the_prefix_still_work_and_list() {
    let bare: Arc<dyn StorageBackend> =
        Arc::new(MemBackend::open(MemConfig::default()).await.unwrap());
    let ns = NamespaceLayer::new("tenant").unwrap().layer(bare.clone());
    let long = Partition::new("x".repeat(64)).unwrap();
    let long2 = Partition::new(format!("{}y", "x".repeat(63))).unwrap();
    let short = part("a");
    for p in [&long, &long2, &short] {
        ns.create_partition(p).await.unwrap();
        ns.put(p, b"k", p.name().as_bytes()).await.unwrap();
    }
    for p in [&long, &long2, &short] {
        assert_eq!(
            ns.get(p, b"k").await.unwrap().as_deref(),
            Some(p.name().as_bytes())
        );
    }
    let mut expected = vec![long.clone(), long2.clone(), short.clone()];
    expected.sort();
    assert_eq!(ns.list_partitions().await.unwrap(), expected);
    assert!(
        bare.list_partitions()
            .await
            .unwrap()
            .iter()
            .all(|p| p.name().len() <= 64)
    );
    ns.drop_partition(&long).await.unwrap();
    assert!(!ns.partition_exists(&long).await.unwrap());
    assert_eq!(ns.list_partitions().await.unwrap().len(), 2);
    assert!(NamespaceLayer::new("bad_name").is_err());
}

#[tokio::test]
async fn entry_scans_see_the_callers_partition_and_deadlines() {
    use backend_api::{PutOptions, ScanRange};
    use futures_util::StreamExt;
    let bare: Arc<dyn StorageBackend> =
        Arc::new(MemBackend::open(MemConfig::default()).await.unwrap());
    let a = NamespaceLayer::new("appA").unwrap().layer(bare.clone());
    let b = NamespaceLayer::new("appB").unwrap().layer(bare);
    let users = part("users");
    a.create_partition(&users).await.unwrap();
    b.create_partition(&users).await.unwrap();
    let ttl = std::time::Duration::from_secs(60);
    let before = std::time::SystemTime::now();
    a.put_with(&users, b"k", b"v", PutOptions::with_ttl(ttl))
        .await
        .unwrap();
    b.put(&users, b"other", b"v").await.unwrap();
    let entries: Vec<_> = a
        .scan_entries(&users, ScanRange::all())
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(&entries[0].key[..], b"k");
    let deadline = entries[0].expires_at.expect("a deadline");
    assert!(deadline >= before + ttl - std::time::Duration::from_millis(5));
    assert!(deadline <= std::time::SystemTime::now() + ttl);
    match a.scan_entries(&part("nope"), ScanRange::all()).await {
        Err(Error::PartitionNotFound(name)) => assert_eq!(name, "nope"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a missing partition scanned"),
    }
}
