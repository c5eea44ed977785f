//! Failure behaviour against servers these tests own: no server, a wrong password, a
//! server killed mid-workload and restarted on the same port, a watch subscriber the
//! server drops.
//!
//! The elapsed-time checks are liveness bounds (a call must come back with an error
//! rather than hang), each several times the configured timeouts; they are not
//! performance measurements.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backend_api::{Error, Partition, ScanRange, StorageBackend, WatchEvent};
use backend_redis::{RedisBackend, RedisConfig};
use common::Server;
use futures_util::StreamExt;

const CONNECT: Duration = Duration::from_millis(500);
const RESPONSE: Duration = Duration::from_secs(1);
/// A call may reconnect once and wait for one response; allow generous slack.
const BOUND: Duration = Duration::from_secs(5);

fn config(url: String) -> RedisConfig {
    RedisConfig::new(url)
        .namespace(common::fresh_namespace())
        .connect_timeout(CONNECT)
        .response_timeout(RESPONSE)
}

fn is_outage(err: &Error) -> bool {
    matches!(err, Error::Unavailable { .. } | Error::Timeout { .. })
}

/// The errors in `err`'s source chain, `err` itself left out.
fn chain(err: &Error) -> Vec<&(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(err), |e| e.source()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_at_open_is_a_prompt_unavailable_naming_it_with_the_io_error_kept() {
    // A free port with nothing listening.
    let port = common::free_port();
    let started = Instant::now();
    let err = RedisBackend::open(config(format!("redis://:pw@127.0.0.1:{port}/0")))
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    let shown = err.to_string();
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(!shown.contains("pw"), "no credentials in errors: {shown}");
    let io = chain(&err)
        .into_iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("no io::Error in the source chain of {err:?}"));
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{io:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_are_invalid_config() {
    for url in [
        "http://127.0.0.1:1/",
        "not a url",
        "redis://127.0.0.1:1/notadb",
    ] {
        let err = RedisBackend::open(config(url.into())).await.expect_err(url);
        assert!(matches!(err, Error::InvalidConfig { .. }), "{url}: {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_prompt_typed_error() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    for url in [
        format!("redis://:wrong@127.0.0.1:{}/0", server.port),
        format!("redis://127.0.0.1:{}/0", server.port),
    ] {
        let started = Instant::now();
        let err = RedisBackend::open(config(url.clone()))
            .await
            .expect_err("credentials must be refused");
        assert!(matches!(err, Error::InvalidConfig { .. }), "{url}: {err:?}");
        assert!(err.to_string().contains("password"), "{err}");
        assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    }
    let ok = RedisBackend::open(config(format!(
        "redis://:s3cret@127.0.0.1:{}/0",
        server.port
    )))
    .await
    .expect("the right password works");
    let p = Partition::new("p").unwrap();
    ok.create_partition(&p).await.unwrap();
    ok.put(&p, b"k", b"v").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_server_fails_calls_in_time_and_the_same_handle_recovers() {
    let mut server = Server::start(&[]);
    let store = Arc::new(RedisBackend::open(config(server.url())).await.unwrap());
    let p = Partition::new("work").unwrap();
    store.create_partition(&p).await.unwrap();
    let mut watch = store.watch(&p, b"").await.unwrap();

    // A workload of puts and gets, recording how long each failing call took.
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (store, p, stop) = (store.clone(), p.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut failures) = (0u64, Vec::new());
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let key = format!("k{}", i % 100);
                let started = Instant::now();
                let result = match i % 2 {
                    0 => store.put(&p, key.as_bytes(), b"v").await,
                    _ => store.get(&p, key.as_bytes()).await.map(drop),
                };
                match result {
                    Ok(()) => ok += 1,
                    Err(err) => {
                        failures.push((started.elapsed(), err));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (ok, failures)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (ok, failures) = worker.await.expect("the workload never panics");
    assert!(ok > 0, "the workload ran before the kill");
    assert!(!failures.is_empty(), "calls fail while the server is gone");
    let slowest = failures
        .iter()
        .map(|(took, _)| *took)
        .max()
        .unwrap_or_default();
    eprintln!(
        "killed server: {ok} calls ok before the kill, {} failed after it, slowest failure {slowest:?}, first: {}",
        failures.len(),
        failures[0].1
    );
    let address = format!("127.0.0.1:{}", server.port);
    for (took, err) in &failures {
        assert!(is_outage(err), "unexpected error kind: {err:?}");
        if matches!(err, Error::Unavailable { .. }) {
            assert!(
                err.to_string().contains(&address),
                "names the server: {err}"
            );
        }
        assert!(*took < BOUND, "a call took {took:?} to fail ({err:?})");
    }

    // The watch says its connection is gone instead of going silent.
    let item = tokio::time::timeout(BOUND, async {
        loop {
            match watch.next().await {
                // The watcher is not polled during the workload: it may have lagged.
                Some(Ok(
                    WatchEvent::Put { .. } | WatchEvent::Delete { .. } | WatchEvent::Lagged(_),
                )) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the watch reports the lost connection in time");
    assert!(
        matches!(item, Some(Err(Error::Unavailable { .. }))),
        "{item:?}"
    );

    // Calls during the outage keep failing in time.
    let started = Instant::now();
    let err = store.get(&p, b"k1").await.expect_err("server is down");
    assert!(
        is_outage(&err) && started.elapsed() < BOUND,
        "{err:?} after {:?}",
        started.elapsed()
    );

    // Same port, fresh server (persistence off: the data is gone). The same handle
    // recovers without being rebuilt.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.create_partition(&p).await {
            Ok(()) => break,
            Err(err) if is_outage(&err) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the handle did not recover: {err:?}"),
        }
    }
    let mut watch = store.watch(&p, b"").await.unwrap();
    store.put(&p, b"after", b"restart").await.unwrap();
    assert_eq!(
        store.get(&p, b"after").await.unwrap().as_deref(),
        Some(&b"restart"[..])
    );
    let keys: Vec<_> = store
        .scan(&p, ScanRange::all())
        .await
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect()
        .await;
    assert_eq!(keys, vec![&b"after"[..]]);
    let event = tokio::time::timeout(BOUND, watch.next()).await.unwrap();
    assert!(
        matches!(event, Some(Ok(WatchEvent::Put { .. }))),
        "{event:?}"
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_dropped_by_the_server_is_an_error_not_silence() {
    let server = Server::start(&[]);
    let store = RedisBackend::open(config(server.url())).await.unwrap();
    let p = Partition::new("p").unwrap();
    store.create_partition(&p).await.unwrap();
    let mut watch = store.watch(&p, b"").await.unwrap();
    store.put(&p, b"k", b"1").await.unwrap();
    let first = tokio::time::timeout(BOUND, watch.next()).await.unwrap();
    assert!(
        matches!(first, Some(Ok(WatchEvent::Put { .. }))),
        "{first:?}"
    );

    // What the server does to a subscriber over client-output-buffer-limit pubsub.
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    store.put(&p, b"k", b"2").await.unwrap();
    let item = tokio::time::timeout(BOUND, watch.next())
        .await
        .expect("no silence");
    assert!(
        matches!(item, Some(Err(Error::Unavailable { .. }))),
        "{item:?}"
    );
    assert!(
        tokio::time::timeout(BOUND, watch.next())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_partition_ends_its_watchers() {
    let store = RedisBackend::open(config(common::shared_url()))
        .await
        .unwrap();
    let p = Partition::new("gone").unwrap();
    store.create_partition(&p).await.unwrap();
    let mut watch = store.watch(&p, b"").await.unwrap();
    store.drop_partition(&p).await.unwrap();
    assert!(
        tokio::time::timeout(BOUND, watch.next())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_times_out_and_the_handle_recovers_when_it_thaws() {
    let server = Server::start(&[]);
    let store = RedisBackend::open(config(server.url())).await.unwrap();
    let p = Partition::new("p").unwrap();
    store.create_partition(&p).await.unwrap();
    store.put(&p, b"k", b"v").await.unwrap();
    server.signal("STOP");
    for _ in 0..3 {
        let started = Instant::now();
        let err = store
            .get(&p, b"k")
            .await
            .expect_err("the server does not answer");
        let took = started.elapsed();
        server_thaw_guard(&server, took, &err);
    }
    server.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.get(&p, b"k").await {
            Ok(value) => {
                assert_eq!(value.as_deref(), Some(&b"v"[..]));
                break;
            }
            Err(err) if is_outage(&err) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("the handle did not recover: {err:?}"),
        }
    }
}

/// Thaws the server before failing, so a failed assertion never leaves it stopped.
fn server_thaw_guard(server: &Server, took: Duration, err: &Error) {
    if !(matches!(err, Error::Timeout { .. } | Error::Unavailable { .. }) && took < BOUND) {
        server.signal("CONT");
        panic!("{err:?} after {took:?}");
    }
    eprintln!("frozen server: {err} after {took:?}");
}
