//! Watch: every write path reported, lag accounting, per-key commit order.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Check, Operation, PutOptions, WatchEvent};

use super::util::{
    batch_offered, conditional_offered, del_ev, events_until, next_event, put_ev, watch_offered,
};
use crate::{Ctx, Harness, Outcome, require};

macro_rules! require_watch {
    ($cx:expr) => {
        require!(
            watch_offered(&*$cx.backend, $cx.caps).await,
            "watch is false (checked: Unsupported)"
        )
    };
}

/// Contract row "watch": every write path is reported with what it wrote: put_with
/// (with and without a TTL), CAS (a put and a delete), batch puts with and without a
/// TTL, and a conditional batch.
pub async fn every_write_path_is_reported<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_paths").await;
    let be = &*cx.backend;
    let mut w = be.watch(&p, b"").await.unwrap();
    let mut want = Vec::new();
    be.put_with(&p, b"pw", b"1", PutOptions::default())
        .await
        .unwrap();
    want.push(put_ev("pw", "1"));
    let long = PutOptions::with_ttl(Duration::from_secs(3600));
    if cx.caps.ttl {
        be.put_with(&p, b"pt", b"2", long).await.unwrap();
        want.push(put_ev("pt", "2"));
    }
    if cx.caps.compare_and_swap {
        be.compare_and_swap(&p, b"cas", None, Some(b"3"))
            .await
            .unwrap();
        be.compare_and_swap(&p, b"cas", Some(b"3"), None)
            .await
            .unwrap();
        want.extend([put_ev("cas", "3"), del_ev("cas")]);
    }
    if batch_offered(be, cx.caps.atomic_batch).await {
        let mut ops = vec![Operation::put(&p, "bp", "4")];
        want.push(put_ev("bp", "4"));
        if cx.caps.ttl {
            ops.push(Operation::put_with(&p, "bt", "5", long));
            want.push(put_ev("bt", "5"));
        }
        be.batch(ops).await.unwrap();
    }
    if conditional_offered(be, cx.caps).await {
        be.conditional_batch(
            vec![Check::absent(&p, "cb")],
            vec![Operation::put(&p, "cb", "6"), Operation::delete(&p, "pw")],
        )
        .await
        .unwrap();
        want.extend([put_ev("cb", "6"), del_ev("pw")]);
    }
    be.put(&p, b"end", b"").await.unwrap();
    want.push(put_ev("end", ""));
    assert_eq!(events_until(&mut w, b"end").await, want);
    Ok(())
}

/// Contract row "watch", `Lagged(n)`: a watcher not polled while 10 000 writes happen
/// receives, once it reads, events and `Lagged(n)` notices (each n >= 1) such that what
/// it received plus the n's covers everything published. Writers never wait for it.
pub async fn lagged_counts_cover_every_event<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_count").await;
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    const N: u64 = 10_000;
    let (be, p2) = (cx.backend.clone(), p.clone());
    let writer = tokio::spawn(async move {
        for i in 0..N {
            be.put(&p2, &(i % 100).to_be_bytes(), b"v").await.unwrap();
        }
    });
    tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("writers blocked on a watcher that does not poll")
        .expect("writer");
    cx.backend.put(&p, b"end", b"").await.unwrap();
    let (mut received, mut dropped) = (0u64, 0u64);
    loop {
        match next_event(&mut w).await {
            WatchEvent::Lagged(n) => {
                assert!(n >= 1, "Lagged(0) signals nothing");
                dropped += n;
            }
            WatchEvent::Put { key, .. } if key == "end" => break,
            _ => received += 1,
        }
    }
    assert!(
        received + dropped >= N,
        "received {received} events and Lagged notices for {dropped}: {} of {N} writes unaccounted for",
        N - received - dropped
    );
    Ok(())
}

/// Contract row "watch", commit order per key: 4 writers race 50 puts each on one key;
/// the watcher sees each writer's puts in the order it made them, 200 in all, and the
/// last event is the stored value.
pub async fn watch_events_per_key_in_commit_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_watch!(cx);
    let p = cx.partition("watch_race").await;
    let mut w = cx.backend.watch(&p, b"").await.unwrap();
    let mut writers = Vec::new();
    for id in 0u8..4 {
        let (be, p) = (Arc::clone(&cx.backend), p.clone());
        writers.push(tokio::spawn(async move {
            for i in 0u8..50 {
                be.put(&p, b"k", &[id, i]).await.unwrap();
            }
        }));
    }
    for t in writers {
        t.await.expect("writer");
    }
    let mut next = [0u8; 4];
    let mut last = None;
    for _ in 0..200 {
        match next_event(&mut w).await {
            WatchEvent::Put { value, .. } => {
                let (id, i) = (value[0] as usize, value[1]);
                assert_eq!(i, next[id], "writer {id}'s puts arrived out of order");
                next[id] += 1;
                last = Some(value);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        last,
        cx.backend.get(&p, b"k").await.unwrap(),
        "the last event is not the stored value"
    );
    Ok(())
}
