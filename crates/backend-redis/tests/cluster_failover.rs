//! Failover on a real Redis Cluster (3 masters, 3 replicas): a workload of
//! acknowledged puts on one partition while (1) its master's replica takes over with
//! `CLUSTER FAILOVER`, then (2) the new master is SIGKILLed. Measures the time to the
//! first failed call and to the first success after it, checks every failure is
//! `Unavailable`/`Timeout` within the call bound and that the same handle recovers, and
//! counts acknowledged writes missing afterwards, without and with `WAIT 1`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backend_api::{Error, Partition, StorageBackend};
use backend_redis::{RedisBackend, RedisConfig};
use common::cluster::{Cluster, cli};

const CONNECT: Duration = Duration::from_millis(500);
const RESPONSE: Duration = Duration::from_secs(1);
/// A call may wait for a reconnect and a response, plus the client's retries.
const BOUND: Duration = Duration::from_secs(6);

/// What one workload saw.
#[derive(Debug, Default)]
struct Run {
    acked: Vec<u64>,
    /// (time since the disruption, how long the failed call took, the error)
    failures: Vec<(Duration, Duration, Error)>,
    first_error: Option<Duration>,
    recovered: Option<Duration>,
}

/// Puts `w<i>` for i = 0, 1, ... until `stop`; times are relative to `start` once it
/// is set (the disruption).
async fn workload(
    store: Arc<RedisBackend>,
    p: Partition,
    stop: Arc<AtomicBool>,
    disrupted: Arc<std::sync::Mutex<Option<Instant>>>,
) -> Run {
    let mut run = Run::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("w{i:08}");
        let started = Instant::now();
        let result = store.put(&p, key.as_bytes(), b"v").await;
        let since = disrupted
            .lock()
            .unwrap()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        match result {
            Ok(()) => {
                run.acked.push(i);
                if run.first_error.is_some() && run.recovered.is_none() {
                    run.recovered = Some(since);
                }
            }
            Err(err) => {
                if run.first_error.is_none() {
                    run.first_error = Some(since);
                }
                run.failures.push((since, started.elapsed(), err));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        i += 1;
    }
    run
}

/// Runs the workload across `disrupt`, then counts acknowledged keys that are gone.
async fn measure(
    cluster: &mut Cluster,
    ack: usize,
    label: &str,
    disrupt: impl FnOnce(&mut Cluster, &str) -> Option<usize>,
) {
    let ns = common::fresh_namespace();
    let config = RedisConfig::cluster(cluster.urls())
        .namespace(&ns)
        .connect_timeout(CONNECT)
        .response_timeout(RESPONSE)
        .write_ack_replicas(ack);
    let store = Arc::new(RedisBackend::open(config).await.unwrap());
    let p = Partition::new("work").unwrap();
    store.create_partition(&p).await.unwrap();
    let marker = format!("kvb:{{{ns}:work}}:m");
    let stop = Arc::new(AtomicBool::new(false));
    let disrupted = Arc::new(std::sync::Mutex::new(None));
    let worker = tokio::spawn(workload(
        store.clone(),
        p.clone(),
        stop.clone(),
        disrupted.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    *disrupted.lock().unwrap() = Some(Instant::now());
    let killed = disrupt(cluster, &marker);
    // Run until the cluster is whole again (or 30 s). A killed master stays dead: its
    // replica, now master, has no replica of its own, so with `WAIT 1` that shard
    // cannot acknowledge writes any more (restarting the empty node in place would
    // let it claim its old slots for a moment, empty; attaching a fresh replica is not
    // done here).
    // The failure is noticed after `cluster-node-timeout` (1 s here): only then can
    // `cluster_state` change, so look after 3 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if cluster_ok(cluster) {
            break;
        }
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let run = worker.await.expect("the workload never panics");
    for (_, took, err) in &run.failures {
        assert!(
            matches!(err, Error::Unavailable { .. } | Error::Timeout { .. }),
            "{label}: unexpected error kind {err:?}"
        );
        assert!(
            *took < BOUND,
            "{label}: a call took {took:?} to fail ({err:?})"
        );
    }
    // The same handle works after the failover (reads always; writes unless they
    // need a replica the shard no longer has, and then they time out in time).
    store.get(&p, b"after").await.expect("the handle recovered");
    let started = Instant::now();
    match store.put(&p, b"after", b"1").await {
        Ok(()) => {}
        Err(Error::Timeout { .. }) if ack > 0 && killed.is_some() => {
            assert!(
                started.elapsed() < BOUND,
                "{label}: the unacknowledged write took {:?}",
                started.elapsed()
            );
        }
        Err(err) => panic!("{label}: the handle did not recover: {err:?}"),
    }
    let mut lost = 0;
    for i in &run.acked {
        if store
            .get(&p, format!("w{i:08}").as_bytes())
            .await
            .unwrap()
            .is_none()
        {
            lost += 1;
        }
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n{label} (WAIT {ack}): {} acked writes, {} failed calls, first error after {:?}, \
         recovered after {:?}, slowest failure {:?}, lost acked writes {lost}",
        run.acked.len(),
        run.failures.len(),
        run.first_error,
        run.recovered,
        run.failures.iter().map(|f| f.1).max().unwrap_or_default(),
    );
    if ack > 0 && label.starts_with("graceful") {
        assert_eq!(
            lost, 0,
            "{label}: a graceful failover with WAIT loses nothing"
        );
    }
}

/// Every live node says `cluster_state:ok` (a dead node answers nothing).
fn cluster_ok(cluster: &Cluster) -> bool {
    cluster.nodes.iter().all(|s| {
        let info = cli(s.port, &["cluster", "info"]);
        info.is_empty() || info.contains("cluster_state:ok")
    })
}

/// The replica of the master serving `marker` takes over (`CLUSTER FAILOVER`).
fn graceful(cluster: &mut Cluster, marker: &str) -> Option<usize> {
    let slot = cluster.keyslot(marker);
    let master = cluster.master_of(slot);
    let replica = cluster.replica_of(master);
    let reply = cli(cluster.nodes[replica].port, &["cluster", "failover"]);
    assert!(reply.contains("OK"), "CLUSTER FAILOVER: {reply}");
    None
}

/// The master serving `marker` is SIGKILLed; its replica is elected.
fn kill_master(cluster: &mut Cluster, marker: &str) -> Option<usize> {
    let slot = cluster.keyslot(marker);
    let master = cluster.master_of(slot);
    cluster.nodes[master].kill();
    Some(master)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_fails_calls_in_time_and_the_same_handle_recovers() {
    for ack in [0, 1] {
        let mut cluster = Cluster::start();
        measure(&mut cluster, ack, "graceful CLUSTER FAILOVER", graceful).await;
        measure(&mut cluster, ack, "master SIGKILL", kill_master).await;
        // No leftover processes: the cluster's nodes are killed and reaped here.
        drop(cluster);
    }
}
