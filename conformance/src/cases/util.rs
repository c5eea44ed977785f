//! Small helpers shared by the cases.

use std::fmt::Debug;
use std::time::Duration;

use backend_api::{
    Bytes, Error, KvStream, Partition, Result, ScanRange, StorageBackend, WatchEvent, WatchStream,
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
