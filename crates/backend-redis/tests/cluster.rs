//! backend-redis on a real Redis Cluster (3 masters, 3 replicas, started by
//! `common::cluster`): the whole conformance battery, twice (each partition in its own
//! slot, and the namespace co-located in one slot), plus the cluster-specific edges.

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

/// The namespace in one slot: every case of the battery.
mod colocated {
    conformance::battery!(super::ClusterHarness { colocate: true });
}

/// What a refused cross-slot batch says (see `backend.rs`).
const REFUSAL: &str = "across partitions on Redis Cluster";

/// Each partition in its own slot: every case of the battery runs; a case may fail
/// only because it batches across partitions, and then only with the documented
/// `Unsupported` refusal. The cases that do are listed, and must be the known ones.
#[test]
fn per_partition_slots_battery_passes_except_cross_slot_batches() {
    let harness = ClusterHarness { colocate: false };
    let mut refused = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for (name, case) in conformance::all_cases::<ClusterHarness>() {
        match conformance::runner::run_caught(harness, case, std::time::Duration::from_secs(120)) {
            conformance::runner::Verdict::Passed => passed += 1,
            conformance::runner::Verdict::Skipped(_) => skipped += 1,
            conformance::runner::Verdict::Failed(message) => {
                assert!(
                    message.contains(REFUSAL),
                    "{name} failed for another reason than a refused cross-slot batch: {message}"
                );
                refused.push(name);
            }
        }
    }
    // Written past libtest's capture, like the battery's skip lines.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nper-partition slots: {passed} passed, {skipped} skipped, {} refused cross-slot batches: {refused:?}",
        refused.len()
    );
    assert!(passed > 50, "only {passed} cases passed");
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
    assert!(!store.capabilities().watch);
    assert!(matches!(
        store.watch(&a, b"").await,
        Err(Error::Unsupported { .. })
    ));
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
