//! Handle lifecycle and housekeeping: capabilities, flush, status, len, size, compact,
//! close.

use std::time::Duration;

use backend_api::{Operation, Partition, PutOptions, ScanRange};
use futures_util::StreamExt;

use super::util::{assert_closed, assert_unsupported, b, batch_offered, scan};
use crate::{Ctx, Harness, Outcome};

/// Contract section "Capabilities": constant for the life of the handle, coherent
/// (`reverse_scan` and `snapshot_scan` need `ordered_scan`, `cross_process_watch` needs
/// `watch`, limits at least 1), and `name()` is a non-empty short name.
pub async fn capabilities_are_stable_and_name_is_set<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let c = cx.caps;
    assert!(!cx.backend.name().is_empty(), "name() is empty");
    let p = cx.partition("caps").await;
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    assert_eq!(
        cx.backend.capabilities(),
        c,
        "capabilities changed during the handle's life"
    );
    assert!(
        !c.reverse_scan || c.ordered_scan,
        "reverse_scan without ordered_scan"
    );
    assert!(
        !c.cross_process_watch || c.watch,
        "cross_process_watch without watch"
    );
    assert!(c.max_key_len >= 1, "max_key_len must be at least 1");
    Ok(())
}

/// Contract rows "flush" and "status": flush answers Ok (empty store, after writes,
/// twice); status answers Ok.
pub async fn flush_and_status_answer<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    cx.backend.flush().await.expect("flush of an empty store");
    let p = cx.partition("flush").await;
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    cx.backend.flush().await.expect("flush");
    cx.backend.flush().await.expect("second flush");
    cx.backend.status().await.expect("status");
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), Some(b("v")));
    Ok(())
}

/// Contract rows "len" and "is_empty": is_empty is exact; len is exact under
/// `exact_len` (counting overwrites once and deletes out).
pub async fn len_and_is_empty<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("len").await;
    let be = &*cx.backend;
    assert!(be.is_empty(&p).await.unwrap());
    if cx.caps.exact_len {
        assert_eq!(be.len(&p).await.unwrap(), 0);
    }
    for i in 0..37u8 {
        be.put(&p, &[b'k', i], b"v").await.unwrap();
    }
    for i in 0..3u8 {
        be.put(&p, &[b'k', i], b"again").await.unwrap();
    }
    for i in 30..35u8 {
        be.delete(&p, &[b'k', i]).await.unwrap();
    }
    be.delete(&p, b"missing").await.unwrap();
    assert!(!be.is_empty(&p).await.unwrap());
    if cx.caps.exact_len {
        assert_eq!(
            be.len(&p).await.unwrap(),
            32,
            "exact_len: 37 puts, 3 overwrites, 5 deletes"
        );
    }
    let keys: Vec<_> = scan(be, &p, ScanRange::all().keys_only()).await;
    for (k, _) in keys {
        be.delete(&p, &k).await.unwrap();
    }
    assert!(be.is_empty(&p).await.unwrap(), "every key deleted");
    if cx.caps.exact_len {
        assert_eq!(be.len(&p).await.unwrap(), 0);
    }
    Ok(())
}

/// Contract row "partition_size": approximate live bytes; after 100 KB of writes and a
/// flush it is positive, and another partition's writes do not show in an empty one's
/// size beyond a small overhead.
pub async fn partition_size_counts_live_bytes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("size").await;
    let e = cx.partition("size_empty").await;
    for i in 0..100u32 {
        cx.backend
            .put(&p, &i.to_be_bytes(), &[7u8; 1000])
            .await
            .unwrap();
    }
    cx.backend.flush().await.unwrap();
    let size = cx.backend.partition_size(&p).await.unwrap();
    assert!(size > 0, "partition_size of 100 KB of live data is 0");
    let empty = cx.backend.partition_size(&e).await.unwrap();
    assert!(
        empty < 50_000,
        "an empty partition reports {empty} bytes: another partition's data leaks in"
    );
    Ok(())
}

/// Contract row "compact": logical contents unchanged by compaction (after overwrites
/// and deletes), and the partition stays writable. Without `compact` it answers
/// `Unsupported`.
pub async fn compact_keeps_contents<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("compact").await;
    if !cx.caps.compact {
        assert_unsupported(cx.backend.compact(&p).await, "compact");
        return Err(crate::Skip(
            "compact is false (checked: Unsupported)".into(),
        ));
    }
    let be = &*cx.backend;
    for round in 0..3u8 {
        for i in 0..200u8 {
            be.put(&p, &[i], &[round; 100]).await.unwrap();
        }
    }
    for i in (0..200u8).step_by(3) {
        be.delete(&p, &[i]).await.unwrap();
    }
    if cx.caps.ttl {
        be.put_with(&p, b"expired", b"x", PutOptions::with_ttl(Duration::ZERO))
            .await
            .unwrap();
    }
    let before = scan(be, &p, ScanRange::all()).await;
    be.compact(&p).await.expect("compact");
    let after = scan(be, &p, ScanRange::all()).await;
    assert_eq!(before, after, "compaction changed the contents");
    be.put(&p, b"after", b"1").await.unwrap();
    assert_eq!(be.get(&p, b"after").await.unwrap(), Some(b("1")));
    Ok(())
}

/// Contract row "close": later calls answer `Error::Closed` (every operation, optional
/// ones too where offered), and closing twice is Ok.
pub async fn calls_after_close_are_closed<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("closing").await;
    let be = &*cx.backend;
    be.put(&p, b"k", b"v").await.unwrap();
    let batch = batch_offered(be, cx.caps.atomic_batch).await;
    be.close().await.expect("close");
    be.close().await.expect("closing twice is Ok");
    let q = Partition::new("closing_new").unwrap();
    assert_closed(be.create_partition(&q).await, "create_partition");
    assert_closed(be.drop_partition(&p).await, "drop_partition");
    assert_closed(be.partition_exists(&p).await, "partition_exists");
    assert_closed(be.list_partitions().await, "list_partitions");
    assert_closed(be.get(&p, b"k").await, "get");
    assert_closed(be.get_many(&p, &[b("k")]).await, "get_many");
    assert_closed(be.exists(&p, b"k").await, "exists");
    assert_closed(be.put(&p, b"k", b"w").await, "put");
    assert_closed(
        be.put_with(&p, b"k", b"w", PutOptions::default()).await,
        "put_with",
    );
    assert_closed(be.delete(&p, b"k").await, "delete");
    match be.scan(&p, ScanRange::all()).await {
        Err(e) => assert_closed::<()>(Err(e), "scan"),
        Ok(mut s) => match s.next().await {
            Some(Err(e)) => assert_closed::<()>(Err(e), "scan stream"),
            other => panic!("scan after close: expected Closed, got {other:?}"),
        },
    }
    assert_closed(be.partition_size(&p).await, "partition_size");
    assert_closed(be.len(&p).await, "len");
    assert_closed(be.is_empty(&p).await, "is_empty");
    assert_closed(be.flush().await, "flush");
    assert_closed(be.status().await, "status");
    if batch {
        assert_closed(be.batch(vec![Operation::put(&p, "k", "w")]).await, "batch");
    }
    if cx.caps.compare_and_swap {
        assert_closed(
            be.compare_and_swap(&p, b"k", None, Some(b"w")).await,
            "compare_and_swap",
        );
    }
    if cx.caps.watch {
        assert_closed(be.watch(&p, b"").await.map(|_| ()), "watch");
    }
    if cx.caps.ttl {
        assert_closed(
            be.put_with(&p, b"k", b"w", PutOptions::with_ttl(Duration::from_secs(9)))
                .await,
            "put_with ttl",
        );
    }
    if cx.caps.compact {
        assert_closed(be.compact(&p).await, "compact");
    }
    Ok(())
}
