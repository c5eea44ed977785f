//! Small helpers shared by the cases.

use std::fmt::Debug;
use std::time::Duration;

use backend_api::{
    Bytes, Capabilities, Check, Error, KvStream, Operation, Partition, Result, ScanRange,
    StorageBackend, WatchEvent, WatchStream,
};
use futures_util::StreamExt;

/// How long a case waits for one expected watch event or TTL expiry before failing.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Owned bytes from anything byte-like.
pub(crate) fn b(x: impl AsRef<[u8]>) -> Bytes {
    Bytes::copy_from_slice(x.as_ref())
}

/// Drains a scan stream, failing the case on an item error.
pub(crate) async fn drain(mut stream: KvStream) -> Vec<(Bytes, Bytes)> {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.expect("scan item"));
    }
    out
}

/// Scans `range`, returning the first error whether it came from the call or the stream.
pub(crate) async fn try_scan(
    backend: &dyn StorageBackend,
    p: &Partition,
    range: ScanRange,
) -> Result<Vec<(Bytes, Bytes)>> {
    let mut stream = backend.scan(p, range).await?;
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

/// Scans `range` and returns the pairs.
pub(crate) async fn scan(
    backend: &dyn StorageBackend,
    p: &Partition,
    range: ScanRange,
) -> Vec<(Bytes, Bytes)> {
    let r = range.clone();
    try_scan(backend, p, range)
        .await
        .unwrap_or_else(|e| panic!("scan {r:?}: {e}"))
}

/// Scans `range` and returns only the keys.
pub(crate) async fn scan_keys(
    backend: &dyn StorageBackend,
    p: &Partition,
    range: ScanRange,
) -> Vec<Bytes> {
    scan(backend, p, range)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// Puts every key with value = key.
pub(crate) async fn put_keys(backend: &dyn StorageBackend, p: &Partition, keys: &[Bytes]) {
    for k in keys {
        backend.put(p, k, k).await.expect("put");
    }
}

/// The next watch event, failing the case if none arrives within [`WAIT`] or the stream
/// ends or errs.
pub(crate) async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(WAIT, stream.next()).await {
        Err(_) => panic!("no watch event arrived within {WAIT:?}"),
        Ok(None) => panic!("the watch stream ended early"),
        Ok(Some(Err(e))) => panic!("watch stream item error: {e}"),
        Ok(Some(Ok(event))) => event,
    }
}

/// A put event.
pub(crate) fn put_ev(k: impl AsRef<[u8]>, v: impl AsRef<[u8]>) -> WatchEvent {
    WatchEvent::Put {
        key: b(k),
        value: b(v),
    }
}

/// A delete event.
pub(crate) fn del_ev(k: impl AsRef<[u8]>) -> WatchEvent {
    WatchEvent::Delete { key: b(k) }
}

/// Asserts `r` is `Error::PartitionNotFound` naming `p`.
#[track_caller]
pub(crate) fn assert_not_found<T: Debug>(r: Result<T>, p: &Partition, what: &str) {
    match r {
        Err(Error::PartitionNotFound(name)) => {
            assert_eq!(
                name,
                p.name(),
                "{what}: PartitionNotFound must name the partition"
            )
        }
        other => {
            panic!("{what} on missing partition {p}: expected PartitionNotFound, got {other:?}")
        }
    }
}

/// Asserts `r` is `Error::Unsupported` (an optional operation whose capability is false).
#[track_caller]
pub(crate) fn assert_unsupported<T: Debug>(r: Result<T>, what: &str) {
    match r {
        Err(Error::Unsupported { .. }) => {}
        other => {
            panic!("{what} without its capability must answer Error::Unsupported, got {other:?}")
        }
    }
}

/// Asserts `r` is `Error::InvalidKey`.
#[track_caller]
pub(crate) fn assert_invalid_key<T: Debug>(r: Result<T>, what: &str) {
    assert!(
        matches!(r, Err(Error::InvalidKey { .. })),
        "{what}: expected InvalidKey, got {r:?}"
    );
}

/// Asserts `r` is `Error::InvalidValue`.
#[track_caller]
pub(crate) fn assert_invalid_value<T: Debug>(r: Result<T>, what: &str) {
    assert!(
        matches!(r, Err(Error::InvalidValue { .. })),
        "{what}: expected InvalidValue, got {r:?}"
    );
}

/// Polls `get` until the key is absent, failing after [`WAIT`].
pub(crate) async fn wait_absent(backend: &dyn StorageBackend, p: &Partition, key: &[u8]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while backend.get(p, key).await.expect("get").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "key {key:?} still visible {WAIT:?} after its TTL"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// True if the backend offers `batch` at all: probes with an empty batch. A backend
/// declaring `atomic_batch` must offer it.
pub(crate) async fn batch_offered(backend: &dyn StorageBackend, atomic: bool) -> bool {
    match backend.batch(Vec::new()).await {
        Ok(()) => true,
        Err(Error::Unsupported { .. }) if !atomic => false,
        Err(e) => panic!("empty batch must be Ok (or Unsupported without atomic_batch): {e}"),
    }
}

/// Asserts `r` is `Error::Closed`.
#[track_caller]
pub(crate) fn assert_closed<T: Debug>(r: Result<T>, what: &str) {
    assert!(
        matches!(r, Err(Error::Closed)),
        "{what} after close: expected Closed, got {r:?}"
    );
}

/// True if `conditional_batch` is offered; without the capability, checks that a
/// conditional batch answers `Unsupported` and writes nothing.
pub(crate) async fn conditional_offered(backend: &dyn StorageBackend, caps: Capabilities) -> bool {
    if caps.conditional_batch {
        return true;
    }
    let p = Partition::new("cond_unsupported").expect("valid name");
    backend
        .create_partition(&p)
        .await
        .expect("create_partition");
    let r = backend
        .conditional_batch(
            vec![Check::absent(&p, "k")],
            vec![Operation::put(&p, "k", "v")],
        )
        .await;
    assert_unsupported(r, "conditional_batch");
    assert_eq!(
        backend.get(&p, b"k").await.expect("get"),
        None,
        "an unsupported conditional batch wrote"
    );
    false
}

/// True if range deletes are offered; without `range_delete`, checks that a batch (and
/// a conditional batch, where offered) carrying one answers `Unsupported` and writes
/// nothing, not even the puts before it.
pub(crate) async fn range_delete_offered(backend: &dyn StorageBackend, caps: Capabilities) -> bool {
    if caps.range_delete {
        return true;
    }
    let p = Partition::new("range_unsupported").expect("valid name");
    backend
        .create_partition(&p)
        .await
        .expect("create_partition");
    backend.put(&p, b"old", b"1").await.expect("put");
    let ops = || {
        vec![
            Operation::put(&p, "new", "1"),
            Operation::delete_prefix(&p, ""),
        ]
    };
    match backend.batch(ops()).await {
        Err(Error::Unsupported { .. }) => {}
        other => panic!(
            "a batch with a range delete without range_delete: expected Unsupported, got {other:?}"
        ),
    }
    if caps.conditional_batch {
        assert_unsupported(
            backend.conditional_batch(Vec::new(), ops()).await,
            "conditional_batch with a range delete",
        );
    }
    assert_eq!(backend.get(&p, b"new").await.expect("get"), None, "wrote");
    assert_eq!(
        backend.get(&p, b"old").await.expect("get"),
        Some(b("1")),
        "deleted"
    );
    false
}

/// True if `watch` is offered; without it, checks the answer is `Unsupported`.
pub(crate) async fn watch_offered(backend: &dyn StorageBackend, caps: Capabilities) -> bool {
    if caps.watch {
        return true;
    }
    let p = Partition::new("watch_unsupported").expect("valid name");
    backend
        .create_partition(&p)
        .await
        .expect("create_partition");
    assert_unsupported(backend.watch(&p, b"").await.map(|_| ()), "watch");
    false
}

/// Reads events until a put of `sentinel` (included), failing after [`WAIT`] per event.
pub(crate) async fn events_until(stream: &mut WatchStream, sentinel: &[u8]) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    loop {
        let e = next_event(stream).await;
        let done = matches!(&e, WatchEvent::Put { key, .. } if key == sentinel);
        out.push(e);
        if done {
            return out;
        }
    }
}

/// Waits until `stream` ends; it may first yield at most one error item. Fails if it
/// yields an event or does not end within [`WAIT`].
pub(crate) async fn assert_watch_ends(stream: &mut WatchStream, what: &str) {
    let mut errors = 0;
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await {
            Err(_) => panic!("{what}: the watch stream did not end within {WAIT:?}"),
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                errors += 1;
                assert!(errors <= 1, "{what}: more than one error item ({e})");
            }
            Ok(Some(Ok(e))) => panic!("{what}: expected the end of the stream, got {e:?}"),
        }
    }
}

/// A big-endian `u64` value.
pub(crate) fn num(v: &[u8]) -> u64 {
    u64::from_be_bytes(v.try_into().expect("an 8-byte counter"))
}

/// Contract, capability `cross_partition_batch`: `Ok` when batches may name several
/// partitions. Otherwise [`assert_refused_across`] and skip the case, which needs such
/// batches.
pub(crate) async fn across(
    backend: &dyn StorageBackend,
    caps: Capabilities,
    a: &Partition,
    b: &Partition,
) -> crate::Outcome {
    if caps.cross_partition_batch {
        return Ok(());
    }
    assert_refused_across(backend, caps, a, b).await;
    Err(crate::Skip(
        "cross_partition_batch is false (checked: batches across partitions answer \
         Unsupported and write nothing)"
            .into(),
    ))
}

/// Without `cross_partition_batch`: a batch and (when offered) a conditional batch
/// naming both `a` and `b`, two existing partitions, answer `Unsupported` and write
/// nothing; so does a spanning batch naming a missing partition (the capability comes
/// first in the order of errors).
pub(crate) async fn assert_refused_across(
    backend: &dyn StorageBackend,
    caps: Capabilities,
    a: &Partition,
    b: &Partition,
) {
    let spanning = || {
        vec![
            Operation::put(a, "across", "1"),
            Operation::put(b, "across", "2"),
        ]
    };
    assert_unsupported(backend.batch(spanning()).await, "a batch across partitions");
    if caps.conditional_batch {
        assert_unsupported(
            backend
                .conditional_batch(vec![Check::absent(a, "across")], spanning())
                .await,
            "a conditional batch across partitions",
        );
        assert_unsupported(
            backend
                .conditional_batch(
                    vec![Check::absent(b, "across")],
                    vec![Operation::put(a, "across", "1")],
                )
                .await,
            "a conditional batch checking one partition and writing another",
        );
    }
    let missing = Partition::new("across_missing").expect("valid name");
    assert_unsupported(
        backend
            .batch(vec![
                Operation::put(&missing, "across", "1"),
                Operation::put(a, "across", "1"),
            ])
            .await,
        "a batch across partitions, one missing",
    );
    for p in [a, b] {
        assert_eq!(
            backend.get(p, b"across").await.expect("get"),
            None,
            "a refused batch across partitions wrote to {p}"
        );
    }
}

/// For a call naming two partitions: without `cross_partition_batch`, asserts it
/// answered `Unsupported` (the capability comes first in the order of errors) and gives
/// `None`; otherwise gives the answer back for the case's own assertion.
#[track_caller]
pub(crate) fn unless_refused_across<T: Debug>(
    caps: Capabilities,
    r: Result<T>,
    what: &str,
) -> Option<Result<T>> {
    if caps.cross_partition_batch {
        return Some(r);
    }
    assert_unsupported(r, &format!("{what} (across partitions)"));
    None
}
