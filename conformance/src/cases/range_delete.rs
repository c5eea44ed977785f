//! Range deletes: `Operation::DeleteRange` inside batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backend_api::{
    BatchOutcome, Bytes, Check, KeyRange, Operation, Partition, PutOptions, ScanRange, WatchEvent,
};

use super::util::{
    assert_invalid_key, b, batch_offered, conditional_offered, events_until, put_ev,
    range_delete_offered, scan_keys, unless_refused_across, wait_absent, watch_offered,
};
use crate::{Ctx, Harness, Outcome, require};

macro_rules! require_range_delete {
    ($cx:expr) => {
        require!(
            range_delete_offered(&*$cx.backend, $cx.caps).await,
            "range_delete is false (checked: Unsupported, nothing written)"
        );
        require!(
            batch_offered(&*$cx.backend, $cx.caps.atomic_batch).await,
            "batch is not offered"
        );
    };
}

fn keys(names: &[&str]) -> Vec<Bytes> {
    names.iter().map(b).collect()
}

async fn fill(cx: &Ctx<impl Harness>, p: &Partition, names: &[&[u8]]) {
    let ops = names
        .iter()
        .map(|k| Operation::put(p, b(k), b(k)))
        .collect();
    cx.backend.batch(ops).await.unwrap();
}

const LETTERS: [&[u8]; 8] = [b"a", b"b", b"c", b"ca", b"d", b"e", b"f", b"g"];

/// Contract section "Range deletes": `[start, end)` with the start included, the end
/// excluded (a key just below the end is removed, the end key stays), open bounds on
/// either side, binary bounds; other partitions untouched.
pub async fn range_delete_bounds<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_bounds").await;
    let other = cx.partition("rd_other").await;
    let be = &*cx.backend;
    fill(&cx, &p, &LETTERS).await;
    fill(&cx, &other, &LETTERS).await;
    be.batch(vec![Operation::delete_range(
        &p,
        KeyRange::between("b", "e"),
    )])
    .await
    .unwrap();
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await,
        keys(&["a", "e", "f", "g"]),
        "[b, e) removes b, c, ca, d only"
    );
    be.batch(vec![Operation::delete_range(&p, KeyRange::from("f"))])
        .await
        .unwrap();
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, keys(&["a", "e"]));
    be.batch(vec![Operation::delete_range(&p, KeyRange::until("e"))])
        .await
        .unwrap();
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, keys(&["e"]));
    assert_eq!(
        scan_keys(be, &other, ScanRange::all()).await.len(),
        LETTERS.len(),
        "another partition lost keys"
    );
    let bin = cx.partition("rd_binary").await;
    fill(
        &cx,
        &bin,
        &[b"\x00", b"\x01", b"\xfe", b"\xfe\xff", b"\xff", b"\xff\xff"],
    )
    .await;
    be.batch(vec![Operation::delete_range(
        &bin,
        KeyRange::between(&b"\x01"[..], &b"\xff"[..]),
    )])
    .await
    .unwrap();
    assert_eq!(
        scan_keys(be, &bin, ScanRange::all()).await,
        vec![b([0u8]), b([0xFFu8]), b([0xFF, 0xFF])]
    );
    Ok(())
}

/// Contract section "Range deletes": `delete_prefix` removes exactly the keys starting
/// with the prefix (not the prefix's neighbours, also for a prefix ending in 0xFF); an
/// empty prefix removes every key of the partition.
pub async fn range_delete_prefix<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_prefix").await;
    let be = &*cx.backend;
    fill(
        &cx,
        &p,
        &[
            b"user",
            b"user:1",
            b"user:2\xff",
            b"users",
            b"usea",
            b"a\xff",
            b"a\xff\x00",
            b"b",
        ],
    )
    .await;
    be.batch(vec![
        Operation::delete_prefix(&p, "user:"),
        Operation::delete_prefix(&p, b"a\xff"),
    ])
    .await
    .unwrap();
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await,
        keys(&["b", "usea", "user", "users"])
    );
    be.batch(vec![Operation::delete_prefix(&p, "")])
        .await
        .unwrap();
    assert!(
        be.is_empty(&p).await.unwrap(),
        "an empty prefix removes every key"
    );
    if cx.caps.exact_len {
        assert_eq!(be.len(&p).await.unwrap(), 0);
    }
    Ok(())
}

/// Contract section "Range deletes": an empty (`start == end`) or inverted range removes
/// nothing and is no error.
pub async fn range_delete_empty_or_inverted_removes_nothing<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_empty").await;
    let be = &*cx.backend;
    fill(&cx, &p, &LETTERS).await;
    be.batch(vec![
        Operation::delete_range(&p, KeyRange::between("c", "c")),
        Operation::delete_range(&p, KeyRange::between("f", "b")),
        Operation::delete_range(&p, KeyRange::between("zz", "zzz")),
    ])
    .await
    .unwrap();
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await.len(),
        LETTERS.len()
    );
    Ok(())
}

/// Contract section "Range deletes": applied in its place in the batch: a put before it
/// in its range does not survive, a put after it does; ops on other partitions around it
/// are applied too.
pub async fn range_delete_in_batch_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_order").await;
    let q = cx.partition("rd_order_q").await;
    let be = &*cx.backend;
    fill(&cx, &p, &[b"k1", b"k2"]).await;
    // An op on another partition rides along where batches may span partitions.
    let mut ops = vec![
        Operation::put(&p, "k3", "before"),
        Operation::delete_prefix(&p, "k"),
        Operation::put(&p, "k2", "after"),
        Operation::put(&p, "j", "outside"),
    ];
    if cx.caps.cross_partition_batch {
        ops.insert(1, Operation::put(&q, "k", "q"));
    } else {
        be.put(&q, b"k", b"q").await.unwrap();
    }
    be.batch(ops).await.unwrap();
    assert_eq!(
        super::util::scan(be, &p, ScanRange::all()).await,
        vec![(b("j"), b("outside")), (b("k2"), b("after"))]
    );
    assert_eq!(be.get(&q, b"k").await.unwrap(), Some(b("q")));
    Ok(())
}

/// Contract section "Range deletes": atomic with the rest of the batch. A batch whose
/// later op is invalid removes nothing; a conditional batch whose check fails removes
/// nothing; under `atomic_batch`, readers scanning while batches of
/// `[delete_prefix, put 8 keys]` run always see all 8 keys of one generation.
pub async fn range_delete_is_atomic_with_the_batch<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_atomic").await;
    let be = &*cx.backend;
    fill(&cx, &p, &LETTERS).await;
    let r = be
        .batch(vec![
            Operation::delete_prefix(&p, ""),
            Operation::put(&p, Bytes::new(), "bad"),
        ])
        .await;
    assert_invalid_key(r, "range delete then an empty key");
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await.len(),
        LETTERS.len()
    );
    if conditional_offered(be, cx.caps).await {
        let out = be
            .conditional_batch(
                vec![Check::equals(&p, "a", "not a")],
                vec![Operation::delete_prefix(&p, "")],
            )
            .await
            .unwrap();
        assert_eq!(
            out,
            BatchOutcome::CheckFailed {
                index: 0,
                current: Some(b("a"))
            }
        );
        assert_eq!(
            scan_keys(be, &p, ScanRange::all()).await.len(),
            LETTERS.len()
        );
        assert!(
            be.conditional_batch(
                vec![Check::equals(&p, "a", "a")],
                vec![Operation::delete_range(&p, KeyRange::from("b"))]
            )
            .await
            .unwrap()
            .is_applied()
        );
        assert_eq!(scan_keys(be, &p, ScanRange::all()).await, keys(&["a"]));
    }
    if !cx.caps.atomic_batch {
        return Ok(());
    }
    let gen_ops = |n: u32| {
        let mut ops = vec![Operation::delete_prefix(&p, "")];
        ops.extend((0..8u8).map(|i| Operation::put(&p, b([b'g', i]), n.to_be_bytes().to_vec())));
        ops
    };
    be.batch(gen_ops(0)).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (be, p, done) = (cx.backend.clone(), p.clone(), done.clone());
        tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) || rounds < 3 {
                let pairs = super::util::scan(&*be, &p, ScanRange::all()).await;
                assert_eq!(
                    pairs.len(),
                    8,
                    "a scan saw part of a range-delete batch: {pairs:?}"
                );
                assert!(
                    pairs.iter().all(|(_, v)| *v == pairs[0].1),
                    "a scan saw two generations: {pairs:?}"
                );
                rounds += 1;
                tokio::task::yield_now().await;
            }
        })
    };
    for n in 1..=150 {
        cx.backend.batch(gen_ops(n)).await.unwrap();
    }
    done.store(true, Ordering::Release);
    reader.await.expect("reader");
    Ok(())
}

/// Contract section "Range deletes": bounded memory for any range size; 20 000 keys
/// (written 1 000 per batch) go in one range delete that leaves its neighbours.
pub async fn range_delete_of_20k_keys<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_large").await;
    let be = &*cx.backend;
    for chunk in 0..20u32 {
        let ops = (0..1_000u32)
            .map(|i| {
                let k = chunk * 1_000 + i;
                Operation::put(&p, format!("m{k:06}"), "v")
            })
            .collect();
        be.batch(ops).await.unwrap();
    }
    fill(&cx, &p, &[b"a", b"z"]).await;
    tokio::time::timeout(
        Duration::from_secs(120),
        be.batch(vec![Operation::delete_prefix(&p, "m")]),
    )
    .await
    .expect("a range delete of 20 000 keys took over 2 minutes")
    .unwrap();
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, keys(&["a", "z"]));
    if cx.caps.exact_len {
        assert_eq!(be.len(&p).await.unwrap(), 2);
    }
    Ok(())
}

/// Contract row "watch" and section "Range deletes": a range delete that removed at
/// least one live key is reported once as `RangeDeleted { range }` (the range as
/// written) to every watcher whose prefix overlaps it, and to no other; one that removed
/// nothing (an empty range, absent keys, only expired keys) is not reported.
pub async fn range_delete_event_once<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    require!(
        watch_offered(&*cx.backend, cx.caps).await,
        "watch is false (checked: Unsupported)"
    );
    let p = cx.partition("rd_watch").await;
    let be = &*cx.backend;
    fill(&cx, &p, &[b"k1", b"k2", b"x"]).await;
    if cx.caps.ttl {
        be.put_with(
            &p,
            b"t1",
            b"v",
            PutOptions::with_ttl(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        wait_absent(be, &p, b"t1").await;
    }
    let mut all = be.watch(&p, b"").await.unwrap();
    let mut under_k = be.watch(&p, b"k2").await.unwrap();
    let mut under_x = be.watch(&p, b"x").await.unwrap();
    let range = KeyRange::between("k", "l");
    be.batch(vec![
        Operation::delete_range(&p, KeyRange::between("a", "b")),
        Operation::delete_range(&p, KeyRange::between("q", "p")),
        Operation::delete_prefix(&p, "t"),
    ])
    .await
    .unwrap();
    be.batch(vec![Operation::delete_range(&p, range.clone())])
        .await
        .unwrap();
    be.batch(vec![Operation::delete_range(&p, range.clone())])
        .await
        .unwrap();
    be.put(&p, b"x", b"end").await.unwrap();
    let deleted = WatchEvent::RangeDeleted { range };
    assert_eq!(
        events_until(&mut all, b"x").await,
        vec![deleted.clone(), put_ev("x", "end")],
        "one RangeDeleted, and none for a range delete that removed nothing"
    );
    assert_eq!(super::util::next_event(&mut under_k).await, deleted);
    assert_eq!(
        super::util::next_event(&mut under_x).await,
        put_ev("x", "end"),
        "a watcher whose prefix does not overlap the range got its event"
    );
    Ok(())
}

/// Contract sections "Range deletes" and "Decided edges": a bound that is given must be
/// a valid key (`InvalidKey` for an empty or over-long one, even on a missing
/// partition), and nothing in the batch is written.
pub async fn range_delete_invalid_bounds<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_range_delete!(cx);
    let p = cx.partition("rd_invalid").await;
    let missing = Partition::new("rd_invalid_missing").unwrap();
    let be = &*cx.backend;
    fill(&cx, &p, &LETTERS).await;
    let long = vec![b'k'; cx.caps.max_key_len + 1];
    let bad = vec![
        KeyRange::between(Bytes::new(), "c"),
        KeyRange::until(Bytes::new()),
        KeyRange::from(long.clone()),
        KeyRange::between("a", long),
    ];
    for range in bad {
        for target in [&p, &missing] {
            let r = be
                .batch(vec![
                    Operation::put(&p, "new", "1"),
                    Operation::delete_range(target, range.clone()),
                ])
                .await;
            let what = format!("range {range:?} on {target}");
            let r = if target == &p {
                Some(r)
            } else {
                unless_refused_across(cx.caps, r, &what)
            };
            if let Some(r) = r {
                assert_invalid_key(r, &what);
            }
        }
        assert_eq!(be.get(&p, b"new").await.unwrap(), None, "wrote");
    }
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await.len(),
        LETTERS.len()
    );
    Ok(())
}
