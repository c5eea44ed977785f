//! Failover on a real Redis Cluster (3 masters, 3 replicas): a workload of
//! acknowledged puts on one partition, watched, while (1) its master's replica takes
//! over with `CLUSTER FAILOVER`, then (2) the new master is SIGKILLed and, once its
//! replica has taken over, restarted on its port and data directory to rejoin as a
//! replica. Measures the time to the first failed call and to the first success after
//! it; checks every failure is `Unavailable`/`Timeout` within the call bound, that the
//! same handle and the same watch go on, that the cluster is whole again at the end;
//! counts acknowledged writes missing afterwards, without and with `WAIT 1`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backend_api::{Error, Partition, StorageBackend, WatchEvent};
use backend_redis::{RedisBackend, RedisConfig};
use common::cluster::Cluster;
use futures_util::StreamExt;

const CONNECT: Duration = Duration::from_millis(500);
const RESPONSE: Duration = Duration::from_secs(1);
/// A call may wait for a reconnect and a response, plus the client's retries.
const BOUND: Duration = Duration::from_secs(6);
/// Without `WAIT`, a write the master acknowledged but had not yet sent to its replica
/// is lost when the master dies: only writes acknowledged this long before the kill
/// may be missing (replication runs behind by milliseconds on loopback; the docs state
/// the window).
const UNREPLICATED_WINDOW: Duration = Duration::from_secs(1);

/// What one workload saw.
#[derive(Debug, Default)]
struct Run {
    /// (key number, when the put was acknowledged)
    acked: Vec<(u64, Instant)>,
    /// (time since the disruption, how long the failed call took, the error)
    failures: Vec<(Duration, Duration, Error)>,
    first_error: Option<Duration>,
    recovered: Option<Duration>,
}

/// Puts `w<i>` for i = 0, 1, ... until `stop`; times are relative to the disruption
/// once it is set.
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
                run.acked.push((i, Instant::now()));
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

/// What the watch on the partition saw: events, and errors (each a reported gap).
#[derive(Default)]
struct Seen {
    events: AtomicUsize,
    gaps: AtomicUsize,
    /// The key of the last `Put` seen.
    last: std::sync::Mutex<Vec<u8>>,
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
    let seen = Arc::new(Seen::default());
    let mut watch = store.watch(&p, b"").await.unwrap();
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(item) = watch.next().await {
                match item {
                    Ok(WatchEvent::Put { key, .. }) => {
                        seen.events.fetch_add(1, Ordering::Relaxed);
                        *seen.last.lock().unwrap() = key.to_vec();
                    }
                    Ok(_) => {
                        seen.events.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        assert!(
                            matches!(err, Error::Unavailable { .. }),
                            "a watch gap is reported as Unavailable: {err:?}"
                        );
                        seen.gaps.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let disrupted = Arc::new(std::sync::Mutex::new(None));
    let worker = tokio::spawn(workload(
        store.clone(),
        p.clone(),
        stop.clone(),
        disrupted.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let disrupted_at = Instant::now();
    *disrupted.lock().unwrap() = Some(disrupted_at);
    let killed = disrupt(cluster, &marker);
    // The failure is noticed after `cluster-node-timeout` (1 s here): only then can
    // `cluster_state` change, so look after 3 s; then run until every live node is ok
    // again (30 s at most) and 3 s more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !cluster.live_nodes_ok() {
        tokio::time::sleep(Duration::from_millis(200)).await;
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
    // need a replica the shard does not have yet, and then they time out in time).
    store.get(&p, b"after").await.expect("the handle recovered");
    let (mut lost, mut in_window) = (0usize, 0usize);
    for (i, at) in &run.acked {
        let gone = store
            .get(&p, format!("w{i:08}").as_bytes())
            .await
            .unwrap()
            .is_none();
        let recent = disrupted_at.saturating_duration_since(*at) < UNREPLICATED_WINDOW;
        lost += usize::from(gone);
        in_window += usize::from(gone && recent);
    }
    // A killed master comes back on its port with its node id and rejoins as the
    // replica of the node that took its slots: the cluster is whole again.
    let rejoined = killed.map(|index| {
        let started = Instant::now();
        cluster.restart(index);
        assert!(
            cluster.wait_whole(Duration::from_secs(60)),
            "{label}: the restarted node did not rejoin as a replica within 60 s"
        );
        started.elapsed()
    });
    assert!(
        cluster.wait_whole(Duration::from_secs(30)),
        "{label}: the cluster is not whole at the end"
    );
    // Now every shard has its replica: a write (WAIT included) succeeds and the watch,
    // still the same stream, sees it.
    store
        .put(&p, b"after", b"1")
        .await
        .unwrap_or_else(|e| panic!("{label}: a write on the whole cluster failed: {e:?}"));
    let seen_after = tokio::time::timeout(Duration::from_secs(10), async {
        while seen.last.lock().unwrap().as_slice() != b"after" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok();
    assert!(
        seen_after,
        "{label}: the watch did not survive the failover (events {}, gaps {})",
        seen.events.load(Ordering::Relaxed),
        seen.gaps.load(Ordering::Relaxed)
    );
    // The rejoined node brought nothing back and took nothing away.
    let mut lost_after = 0;
    for (i, _) in &run.acked {
        let key = format!("w{i:08}");
        lost_after += usize::from(store.get(&p, key.as_bytes()).await.unwrap().is_none());
    }
    assert_eq!(
        lost_after, lost,
        "{label}: acked writes changed after the rejoin"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n{label} (WAIT {ack}): {} acked writes, {} failed calls, first error after {:?}, \
         recovered after {:?}, slowest failure {:?}, lost acked writes {lost} ({in_window} \
         acked within {UNREPLICATED_WINDOW:?} before the disruption), watch: {} events, \
         {} reported gaps; killed node rejoined as a replica after {:?}",
        run.acked.len(),
        run.failures.len(),
        run.first_error,
        run.recovered,
        run.failures.iter().map(|f| f.1).max().unwrap_or_default(),
        seen.events.load(Ordering::Relaxed),
        seen.gaps.load(Ordering::Relaxed),
        rejoined,
    );
    if ack > 0 {
        assert_eq!(
            lost, 0,
            "{label}: with WAIT 1 no acknowledged write is lost"
        );
    } else {
        assert_eq!(
            lost, in_window,
            "{label}: without WAIT only writes acknowledged just before the disruption \
             may be lost"
        );
    }
    store.close().await.unwrap();
    watcher.await.expect("the watcher never panics");
}

/// The replica of the master serving `marker` takes over (`CLUSTER FAILOVER`).
fn graceful(cluster: &mut Cluster, marker: &str) -> Option<usize> {
    let slot = cluster.keyslot(marker);
    let master = cluster.master_of(slot);
    let replica = cluster.replica_of(master);
    let reply = common::cluster::cli(cluster.nodes[replica].port, &["cluster", "failover"]);
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
    // One cluster for all four runs: each ends with the cluster whole again.
    let mut cluster = Cluster::start();
    for ack in [0, 1] {
        measure(&mut cluster, ack, "graceful CLUSTER FAILOVER", graceful).await;
        measure(&mut cluster, ack, "master SIGKILL", kill_master).await;
    }
    // No leftover processes: the cluster's nodes are killed and reaped here.
    drop(cluster);
}
