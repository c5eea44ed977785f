//! backend-redis on a real Redis Cluster (3 masters, 3 replicas, started by
//! `test_support::cluster`): the whole conformance battery, twice (each partition in its
//! own slot, and the namespace co-located in one slot), plus the cluster-specific edges.

mod common;

use std::sync::{Arc, OnceLock};

use backend_api::{Error, Operation, Partition, Result, StorageBackend, async_trait};
use backend_redis::{RedisBackend, RedisConfig};
use common::cluster::Cluster;

/// The seed URLs of this test binary's cluster, started on first use (its processes
/// end with the test process through their watchdogs).
fn seeds() -> Vec<String> {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS
        .get_or_init(|| {
            let cluster = Box::leak(Box::new(Cluster::start()));
            cluster.urls()
        })
        .clone()
}

async fn open(namespace: &str, colocate: bool) -> Result<RedisBackend> {
    RedisBackend::open(
        RedisConfig::cluster(seeds())
            .namespace(namespace)
            .colocate_partitions(colocate),
    )
    .await
}

/// A store is a fresh namespace on the shared cluster; `colocate` puts it in one slot.
#[derive(Clone, Copy, Debug)]
pub struct ClusterHarness {
    colocate: bool,
}

#[async_trait]
impl conformance::Harness for ClusterHarness {
    type Store = String;

    async fn create(&self) -> String {
        common::fresh_namespace()
    }

    async fn open(&self, store: &String) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(open(store, self.colocate).await?))
    }
}

/// The namespace in one slot: every case of the battery, batches across partitions
/// included.
mod colocated {
    conformance::battery!(super::ClusterHarness { colocate: true });
}

/// Each partition in its own slot: every case of the battery; the cases that batch
/// across partitions check the refusal (`cross_partition_batch` is false) and skip.
mod per_partition {
    conformance::battery!(super::ClusterHarness { colocate: false });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_across_slots_is_refused_and_writes_nothing() {
    let store = open(&common::fresh_namespace(), false).await.unwrap();
    let (a, b) = (Partition::new("a").unwrap(), Partition::new("b").unwrap());
    store.create_partition(&a).await.unwrap();
    store.create_partition(&b).await.unwrap();
    let err = store
        .batch(vec![
            Operation::put(&a, "k", "1"),
            Operation::put(&b, "k", "2"),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(store.get(&a, b"k").await.unwrap(), None);
    // One partition: fine, and its keys, index and marker share a slot.
    store
        .batch(vec![
            Operation::put(&a, "k", "1"),
            Operation::delete(&a, "x"),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.get(&a, b"k").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );
    let caps = store.capabilities();
    assert!(caps.watch && caps.cross_process_watch && !caps.cross_partition_batch);
    let names: Vec<String> = store
        .list_partitions()
        .await
        .unwrap()
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    assert_eq!(names, ["a", "b"]);
    store.drop_partition(&b).await.unwrap();
    assert_eq!(store.list_partitions().await.unwrap(), vec![a]);
}

/// A watch opened through a handle seeded with one node sees writes made through a
/// handle seeded with another: sharded pub/sub reaches the watcher whichever node each
/// side first talked to, and a partition's events never reach another's watcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_watch_reaches_watchers_on_any_node() {
    use backend_api::WatchEvent;
    use futures_util::StreamExt;
    let ns = common::fresh_namespace();
    let urls = seeds();
    let first = RedisBackend::open(RedisConfig::cluster([urls[0].clone()]).namespace(&ns))
        .await
        .unwrap();
    let last = RedisBackend::open(RedisConfig::cluster([urls[5].clone()]).namespace(&ns))
        .await
        .unwrap();
    let names: Vec<Partition> = (0..8)
        .map(|i| Partition::new(format!("p{i}")).unwrap())
        .collect();
    for p in &names {
        first.create_partition(p).await.unwrap();
    }
    let mut watches = Vec::new();
    for p in &names {
        watches.push(first.watch(p, b"").await.unwrap());
    }
    for p in &names {
        last.put(p, p.name().as_bytes(), b"v").await.unwrap();
    }
    for (p, w) in names.iter().zip(&mut watches) {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), w.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on")
            .unwrap();
        assert_eq!(
            event,
            WatchEvent::Put {
                key: p.name().as_bytes().to_vec().into(),
                value: b"v"[..].into()
            }
        );
    }
    last.drop_partition(&names[0]).await.unwrap();
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), watches[0].next())
        .await
        .expect("the watch ends within 10 s");
    assert!(end.is_none(), "a dropped partition ends its watch: {end:?}");
}
