//! Watch and scan streams when their partition is dropped or their handle closed.

use std::time::Duration;

use backend_api::{Error, KvStream, Partition, ScanRange, StorageBackend};
use futures_util::StreamExt;

use super::util::{WAIT, assert_watch_ends, b, watch_offered};
use crate::{Ctx, Harness, Outcome, require};

/// Contract row "watch": the stream ends (yields `None`) once its partition is dropped
/// through this handle; a watcher of another partition keeps going.
pub async fn watch_ends_on_drop_partition<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(
        watch_offered(&*cx.backend, cx.caps).await,
        "watch is false (checked: Unsupported)"
    );
    let p = cx.partition("watch_dropped").await;
    let q = cx.partition("watch_kept").await;
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    let mut other = cx.backend.watch(&q, b"").await.unwrap();
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    assert_eq!(
        super::util::next_event(&mut w).await,
        super::util::put_ev("k", "v")
    );
    cx.backend.drop_partition(&p).await.unwrap();
    assert_watch_ends(&mut w, "watch after drop_partition").await;
    cx.backend.put(&q, b"still", b"here").await.unwrap();
    assert_eq!(
        super::util::next_event(&mut other).await,
        super::util::put_ev("still", "here")
    );
    Ok(())
}

/// Contract row "watch": every watch stream ends once the handle is closed.
pub async fn watch_ends_on_close<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(
        watch_offered(&*cx.backend, cx.caps).await,
        "watch is false (checked: Unsupported)"
    );
    let p = cx.partition("watch_closed").await;
    let mut a = cx.backend.watch(&p, b"").await.unwrap();
    let mut bw = cx.backend.watch(&p, b"x").await.unwrap();
    cx.backend.close().await.unwrap();
    assert_watch_ends(&mut a, "watch after close").await;
    assert_watch_ends(&mut bw, "prefix watch after close").await;
    Ok(())
}

/// Writes 3 000 keys valued `old` and returns a scan of them that has yielded 10.
async fn scan_under_way(be: &dyn StorageBackend, p: &Partition) -> KvStream {
    for i in 0..3_000u32 {
        be.put(p, &i.to_be_bytes(), b"old").await.unwrap();
    }
    let mut stream = be.scan(p, ScanRange::all()).await.unwrap();
    for _ in 0..10 {
        stream.next().await.expect("a pair").expect("a pair");
    }
    stream
}

/// Drains what is left of `stream` after the end event: pairs (which must be old
/// ones), then at most one error of the expected kind, then the end, within [`WAIT`].
async fn drain_after(mut stream: KvStream, what: &str, closed: bool) {
    loop {
        match tokio::time::timeout(WAIT, stream.next()).await {
            Err(_) => panic!("{what}: the scan stream hangs"),
            Ok(None) => return,
            Ok(Some(Ok((k, v)))) => {
                assert_eq!(v, b("old"), "{what}: yielded {k:?} written after the event");
            }
            Ok(Some(Err(e))) => {
                let expected = if closed {
                    matches!(e, Error::Closed)
                } else {
                    matches!(e, Error::PartitionNotFound(_))
                };
                assert!(expected, "{what}: unexpected error item {e}");
                let after = tokio::time::timeout(WAIT, stream.next()).await;
                assert!(
                    matches!(after, Ok(None)),
                    "{what}: the stream went on after an error: {after:?}"
                );
                return;
            }
        }
    }
}

/// Contract "Decided edges", streams end cleanly: a scan stream whose partition is
/// dropped (and re-created with new data) may still yield pairs that were live before,
/// then ends, possibly with one `PartitionNotFound` item; it never hangs and never
/// yields a pair written after the drop.
pub async fn scan_ends_on_drop_partition<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("scan_dropped").await;
    let be = &*cx.backend;
    let stream = scan_under_way(be, &p).await;
    be.drop_partition(&p).await.unwrap();
    be.create_partition(&p).await.unwrap();
    for i in 0..3_000u32 {
        be.put(&p, &i.to_be_bytes(), b"new").await.unwrap();
    }
    drain_after(stream, "scan after drop_partition", false).await;
    Ok(())
}

/// Contract "Decided edges", streams end cleanly: a scan stream whose handle is closed
/// may still yield pairs that were live before, then ends, possibly with one `Closed`
/// item; it never hangs.
pub async fn scan_ends_on_close<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("scan_closed").await;
    let be = &*cx.backend;
    let stream = scan_under_way(be, &p).await;
    be.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    drain_after(stream, "scan after close", true).await;
    Ok(())
}
