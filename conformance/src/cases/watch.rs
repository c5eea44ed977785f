//! Watch: events after the call, per-key order, prefix and partition filters, lag.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_api::{Bytes, Operation, WatchEvent, WatchStream};

use super::util::{assert_unsupported, b, batch_offered, del_ev, next_event, put_ev};
use crate::{Ctx, Harness, Outcome};

/// Without `watch`, watch answers `Unsupported`; then the case is skipped.
macro_rules! require_watch {
    ($cx:expr) => {
        if !$cx.caps.watch {
            let p = $cx.partition("watch_unsupported").await;
            assert_unsupported($cx.backend.watch(&p, b"").await.map(|_| ()), "watch");
            return Err($crate::Skip("watch is false (checked: Unsupported)".into()));
        }
    };
}

fn key_of(e: &WatchEvent) -> Option<Bytes> {
    match e {
        WatchEvent::Put { key, .. } | WatchEvent::Delete { key } => Some(key.clone()),
        _ => None,
    }
}

/// Reads `n` events (no lag allowed) and groups them per key, in arrival order.
async fn per_key(stream: &mut WatchStream, n: usize) -> BTreeMap<Bytes, Vec<WatchEvent>> {
    let mut out: BTreeMap<Bytes, Vec<WatchEvent>> = BTreeMap::new();
    for _ in 0..n {
        let e = next_event(stream).await;
        let k = key_of(&e).unwrap_or_else(|| panic!("unexpected {e:?} on a quiet watcher"));
        out.entry(k).or_default().push(e);
    }
    out
}

/// Contract row "watch": every put and delete committed after the call, in commit order
/// per key, with the written value; nothing extra.
pub async fn watch_sees_puts_and_deletes_in_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_order").await;
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    let be = &*cx.backend;
    be.put(&p, b"a", b"1").await.unwrap();
    be.put(&p, b"b", b"2").await.unwrap();
    be.put(&p, b"a", b"3").await.unwrap();
    be.delete(&p, b"a").await.unwrap();
    be.put(&p, &[0x00, 0xFF], b"").await.unwrap();
    be.put(&p, b"a", b"4").await.unwrap();
    be.delete(&p, b"b").await.unwrap();
    let got = per_key(&mut w, 7).await;
    let want: BTreeMap<Bytes, Vec<WatchEvent>> = [
        (
            b("a"),
            vec![
                put_ev("a", "1"),
                put_ev("a", "3"),
                del_ev("a"),
                put_ev("a", "4"),
            ],
        ),
        (b("b"), vec![put_ev("b", "2"), del_ev("b")]),
        (b([0x00, 0xFF]), vec![put_ev([0x00, 0xFF], "")]),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    Ok(())
}

/// Contract row "watch": only keys under the prefix (also prefixes ending in 0xFF), only
/// in the watched partition. A sentinel write marks the end of the expected events.
pub async fn watch_filters_by_prefix_and_partition<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_prefix").await;
    let other = cx.partition("watch_prefix_other").await;
    let mut users = cx.backend.watch(&p, b"user:").await.unwrap();
    let mut ff = cx.backend.watch(&p, &[b'a', 0xFF]).await.unwrap();
    let be = &*cx.backend;
    be.put(&other, b"user:x", b"other partition").await.unwrap();
    be.put(&p, b"user", b"no").await.unwrap();
    be.put(&p, b"user:1", b"yes").await.unwrap();
    be.put(&p, b"usex:1", b"no").await.unwrap();
    be.put(&p, &[b'a', 0xFE, 0xFF], b"no").await.unwrap();
    be.put(&p, &[b'a', 0xFF], b"yes").await.unwrap();
    be.put(&p, b"b", b"no").await.unwrap();
    be.delete(&p, b"user:1").await.unwrap();
    be.put(&p, &[b'a', 0xFF, 0xFF, 0x01], b"yes").await.unwrap();
    be.put(&p, b"user:end", b"").await.unwrap();
    assert_eq!(next_event(&mut users).await, put_ev("user:1", "yes"));
    assert_eq!(next_event(&mut users).await, del_ev("user:1"));
    assert_eq!(next_event(&mut users).await, put_ev("user:end", ""));
    assert_eq!(next_event(&mut ff).await, put_ev([b'a', 0xFF], "yes"));
    assert_eq!(
        next_event(&mut ff).await,
        put_ev([b'a', 0xFF, 0xFF, 0x01], "yes")
    );
    Ok(())
}

/// Contract row "watch": writes committed before the call are not reported; dropping a
/// watch stream does not disturb writers or other watchers.
pub async fn watch_starts_after_the_call<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_after").await;
    cx.backend.put(&p, b"before", b"1").await.unwrap();
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    let dropped = cx.backend.watch(&p, b"").await.unwrap();
    drop(dropped);
    cx.backend.put(&p, b"after", b"2").await.unwrap();
    assert_eq!(next_event(&mut w).await, put_ev("after", "2"));
    Ok(())
}

/// Contract rows "watch" and "batch": a batch's puts and deletes are reported, in order
/// per key.
pub async fn watch_reports_batch_writes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    if !batch_offered(&*cx.backend, cx.caps.atomic_batch).await {
        return Err(crate::Skip("batch is not offered".into()));
    }
    let p = cx.partition("watch_batch").await;
    let q = cx.partition("watch_batch_q").await;
    cx.backend.put(&p, b"x", b"0").await.unwrap();
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    // An op on another partition (not reported here) where batches may span them.
    let mut ops = vec![
        Operation::put(&p, "x", "1"),
        Operation::put(&p, "y", "2"),
        Operation::delete(&p, "x"),
    ];
    if cx.caps.cross_partition_batch {
        ops.insert(1, Operation::put(&q, "x", "q"));
    }
    cx.backend.batch(ops).await.unwrap();
    let got = per_key(&mut w, 3).await;
    assert_eq!(got[&b("x")], vec![put_ev("x", "1"), del_ev("x")]);
    assert_eq!(got[&b("y")], vec![put_ev("y", "2")]);
    Ok(())
}

/// Contract row "watch": a watcher that is not polled while 10 000 puts happen does
/// not block the writers (they all complete; a generous timeout is the hang guard) and
/// later receives an explicit `Lagged(n)`, n > 0, after which the stream keeps
/// delivering new writes.
pub async fn watch_lags_a_slow_watcher_and_writers_never_block<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_lag").await;
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    const N: u32 = 10_000;
    let backend = cx.backend.clone();
    let p2 = p.clone();
    let writer = tokio::spawn(async move {
        for i in 0..N {
            backend
                .put(&p2, &(i % 512).to_be_bytes(), &i.to_be_bytes())
                .await
                .unwrap();
        }
    });
    tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("writers blocked on a watcher that does not poll")
        .expect("writer task");
    let mut seen = 0u32;
    let lagged = loop {
        match next_event(&mut w).await {
            WatchEvent::Lagged(n) => break n,
            _ => {
                seen += 1;
                assert!(
                    seen < N,
                    "no Lagged after {N} unread events: the watch buffer is unbounded"
                );
            }
        }
    };
    assert!(lagged > 0, "Lagged(0) signals nothing");
    cx.backend.put(&p, b"after the lag", b"!").await.unwrap();
    for _ in 0..=N {
        match next_event(&mut w).await {
            WatchEvent::Put { key, value } if key == "after the lag" => {
                assert_eq!(value, "!");
                return Ok(());
            }
            _ => {}
        }
    }
    panic!("the stream did not deliver a write made after the lag");
}
