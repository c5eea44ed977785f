//! Scans: bounds, prefixes, order, reverse, limit, keys-only, streaming.

use std::time::Duration;

use backend_api::{Bytes, ScanRange};
use futures_util::StreamExt;

use super::keys_values::binary_keys;
use super::util::{assert_unsupported, b, drain, put_keys, scan, scan_keys, try_scan};
use crate::{Ctx, Harness, Outcome, require};

fn keys(list: &[&str]) -> Vec<Bytes> {
    list.iter().map(b).collect()
}

/// `ordered_scan` is needed by every case that checks order.
macro_rules! require_ordered {
    ($cx:expr) => {
        require!($cx.caps.ordered_scan, "ordered_scan is false")
    };
}

/// Without `reverse_scan`, a reverse scan answers `Unsupported` (from the call or as
/// its first item); then the case is skipped.
macro_rules! require_reverse {
    ($cx:expr, $p:expr) => {
        if !$cx.caps.reverse_scan {
            assert_unsupported(
                try_scan(&*$cx.backend, $p, ScanRange::all().reverse()).await,
                "reverse scan",
            );
            return Err($crate::Skip(
                "reverse_scan is false (checked: Unsupported)".into(),
            ));
        }
    };
}

/// Contract rows "scan" and "order": a full scan yields every key once, ascending in
/// unsigned byte order, with its value.
pub async fn scan_all_in_byte_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ordered!(cx);
    let p = cx.partition("order").await;
    let mut ks = binary_keys();
    ks.extend(keys(&["b", "ba", "b\u{7f}", "c"]));
    ks.sort();
    for k in ks.iter().rev() {
        cx.backend.put(&p, k, k).await.unwrap();
    }
    let pairs = scan(&*cx.backend, &p, ScanRange::all()).await;
    let got: Vec<Bytes> = pairs.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(got, ks);
    assert!(
        pairs.iter().all(|(k, v)| k == v),
        "each key comes with its own value"
    );
    Ok(())
}

/// Contract row "scan": `[start, end)` includes start, excludes end, also when neither
/// bound is a stored key.
pub async fn scan_start_inclusive_end_exclusive<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ordered!(cx);
    let p = cx.partition("bounds").await;
    put_keys(&*cx.backend, &p, &keys(&["a", "b", "ba", "c", "d"])).await;
    let be = &*cx.backend;
    assert_eq!(
        scan_keys(be, &p, ScanRange::between("b", "d")).await,
        keys(&["b", "ba", "c"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::between("b", "c")).await,
        keys(&["b", "ba"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::between("a0", "c0")).await,
        keys(&["b", "ba", "c"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::between("b", "ba")).await,
        keys(&["b"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::between("c", "d")).await,
        keys(&["c"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::between(vec![b'b', 0], "ba")).await,
        Vec::<Bytes>::new()
    );
    Ok(())
}

/// Contract row "scan": either bound may be open.
pub async fn scan_open_bounds<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ordered!(cx);
    let p = cx.partition("open").await;
    put_keys(&*cx.backend, &p, &keys(&["a", "b", "c", "d"])).await;
    let be = &*cx.backend;
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().start("b")).await,
        keys(&["b", "c", "d"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().end("c")).await,
        keys(&["a", "b"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().start("d")).await,
        keys(&["d"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().end("a")).await,
        Vec::<Bytes>::new()
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().start("e")).await,
        Vec::<Bytes>::new()
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().start(vec![0u8]))
            .await
            .len(),
        4
    );
    Ok(())
}

/// Contract row "scan" (ScanRange docs): empty ranges (`[a, a)`, limit 0, a prefix
/// outside the bounds, an empty partition) and inverted ones (`start > end`) yield
/// nothing, without error or panic, forward and reverse.
pub async fn scan_empty_and_inverted_ranges_yield_nothing<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("empty_ranges").await;
    let e = cx.partition("empty_part").await;
    assert!(
        scan(&*cx.backend, &e, ScanRange::all()).await.is_empty(),
        "empty partition"
    );
    put_keys(&*cx.backend, &p, &keys(&["a", "b", "c"])).await;
    let mut ranges = vec![
        ScanRange::between("b", "b"),
        ScanRange::between("c", "a"),
        ScanRange::between(vec![0xFF], vec![0x00]),
        ScanRange::all().limit(0),
        ScanRange::prefix("b").end("a"),
        ScanRange::prefix("b").start("c"),
        ScanRange::prefix("zz"),
    ];
    if cx.caps.reverse_scan {
        ranges.extend(
            ranges
                .clone()
                .into_iter()
                .map(ScanRange::reverse)
                .collect::<Vec<_>>(),
        );
    }
    for r in ranges {
        let got = try_scan(&*cx.backend, &p, r.clone()).await;
        assert!(
            matches!(&got, Ok(v) if v.is_empty()),
            "{r:?} must yield nothing, got {got:?}"
        );
    }
    Ok(())
}

/// Contract row "scan" with a prefix: exactly the keys starting with it, including
/// prefixes ending in 0xFF (whose successor is not a simple increment), the prefix
/// `0xFF 0xFF`, a prefix that is itself a key, and the empty prefix (everything).
pub async fn scan_prefix_with_binary_bytes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("prefix").await;
    let all = binary_keys();
    put_keys(&*cx.backend, &p, &all).await;
    let prefixes: Vec<Bytes> = vec![
        b([b'a', 0xFF]),
        b([0xFF]),
        b([0xFF, 0xFF]),
        b([0x00]),
        b("a"),
        b(vec![0xABu8; 200]),
        b(vec![0xABu8; 150]),
        b([0xFE]),
        Bytes::new(),
    ];
    for pre in prefixes {
        let want: Vec<Bytes> = all
            .iter()
            .filter(|k| k.starts_with(&pre))
            .cloned()
            .collect();
        let mut got = scan_keys(&*cx.backend, &p, ScanRange::prefix(pre.clone())).await;
        if !cx.caps.ordered_scan {
            got.sort();
        }
        assert_eq!(got, want, "prefix {pre:?}");
    }
    Ok(())
}

/// Contract row "scan": a prefix together with start/end gives their intersection.
pub async fn scan_prefix_combined_with_bounds<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ordered!(cx);
    let p = cx.partition("prefix_bounds").await;
    put_keys(&*cx.backend, &p, &keys(&["a", "b", "b1", "b2", "b3", "c"])).await;
    let be = &*cx.backend;
    assert_eq!(
        scan_keys(be, &p, ScanRange::prefix("b").start("b1").end("b3")).await,
        keys(&["b1", "b2"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::prefix("b").start("a")).await,
        keys(&["b", "b1", "b2", "b3"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::prefix("b").end("z")).await,
        keys(&["b", "b1", "b2", "b3"])
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::prefix("b").start("b2")).await,
        keys(&["b2", "b3"])
    );
    Ok(())
}

/// Contract row "scan": at most `limit` items, the first ones in order.
pub async fn scan_limit<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ordered!(cx);
    let p = cx.partition("limit").await;
    let ks: Vec<Bytes> = (0..20u8).map(|i| b([b'k', i])).collect();
    put_keys(&*cx.backend, &p, &ks).await;
    let be = &*cx.backend;
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().limit(1)).await,
        ks[..1].to_vec()
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().limit(5)).await,
        ks[..5].to_vec()
    );
    assert_eq!(scan_keys(be, &p, ScanRange::all().limit(100)).await, ks);
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().start(ks[10].clone()).limit(3)).await,
        ks[10..13].to_vec()
    );
    Ok(())
}

/// Contract row "scan" with `reverse`: descending order; `limit` takes the LAST keys of
/// the range. Without `reverse_scan` a reverse scan answers `Unsupported`.
pub async fn scan_reverse_with_limit<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("rev").await;
    require_reverse!(cx, &p);
    let mut all = binary_keys();
    put_keys(&*cx.backend, &p, &all).await;
    all.reverse();
    let be = &*cx.backend;
    assert_eq!(scan_keys(be, &p, ScanRange::all().reverse()).await, all);
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().reverse().limit(3)).await,
        all[..3].to_vec()
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().reverse().limit(1)).await,
        all[..1].to_vec()
    );
    Ok(())
}

/// Contract row "scan" with `reverse`: the same bounds as forward (start inclusive, end
/// exclusive, prefix, 0xFF prefixes), visited descending.
pub async fn scan_reverse_bounds_and_prefix<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("rev_bounds").await;
    require_reverse!(cx, &p);
    let all = binary_keys();
    put_keys(&*cx.backend, &p, &all).await;
    let ranges = vec![
        ScanRange::between("a", "ab"),
        ScanRange::between(b([0x00, 0x00]), b([0x80])),
        ScanRange::all().start(b([0x80])),
        ScanRange::all().end(b([b'a', 0xFF])),
        ScanRange::prefix(b([b'a', 0xFF])),
        ScanRange::prefix(b([0xFF])),
        ScanRange::prefix(b([0xFF])).end(b([0xFF, 0xFF])),
        ScanRange::prefix(vec![0xABu8; 200]).limit(2),
    ];
    for r in ranges {
        let mut want: Vec<Bytes> = all.iter().filter(|k| r.contains(k)).cloned().collect();
        want.reverse();
        want.truncate(r.limit.unwrap_or(usize::MAX));
        assert_eq!(
            scan_keys(&*cx.backend, &p, r.clone().reverse()).await,
            want,
            "{r:?} reversed"
        );
    }
    Ok(())
}

/// Contract row "scan" with `keys_only`: the same keys, every value empty.
pub async fn scan_keys_only<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("keys_only").await;
    put_keys(&*cx.backend, &p, &keys(&["a", "b", "c"])).await;
    let pairs = scan(&*cx.backend, &p, ScanRange::all().keys_only()).await;
    let mut got: Vec<Bytes> = pairs.iter().map(|(k, _)| k.clone()).collect();
    got.sort();
    assert_eq!(got, keys(&["a", "b", "c"]));
    assert!(
        pairs.iter().all(|(_, v)| v.is_empty()),
        "keys_only values must be empty: {pairs:?}"
    );
    if cx.caps.reverse_scan {
        let pairs = scan(
            &*cx.backend,
            &p,
            ScanRange::prefix("b").keys_only().reverse(),
        )
        .await;
        assert_eq!(pairs, vec![(b("b"), Bytes::new())]);
    }
    Ok(())
}

/// Contract row "scan": dropping the stream early stops the work; the backend stays
/// fully usable (writes, reads, new scans, several abandoned scans at once).
pub async fn scan_dropped_early_then_backend_works<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("dropped_scan").await;
    let ks: Vec<Bytes> = (0..1000u32).map(|i| b(i.to_be_bytes())).collect();
    write_many(&cx, &p, &ks).await;
    let mut held = Vec::new();
    for round in 0..4 {
        let mut s = cx.backend.scan(&p, ScanRange::all()).await.unwrap();
        for _ in 0..3 {
            s.next().await.expect("an item").expect("not an error");
        }
        if round % 2 == 0 {
            drop(s);
        } else {
            held.push(s);
        }
        if cx.caps.reverse_scan {
            let mut s = cx
                .backend
                .scan(&p, ScanRange::all().reverse())
                .await
                .unwrap();
            s.next().await.expect("an item").expect("not an error");
        }
        // Never polled at all.
        drop(cx.backend.scan(&p, ScanRange::all()).await.unwrap());
    }
    cx.backend.put(&p, b"after", b"1").await.unwrap();
    cx.backend.delete(&p, &0u32.to_be_bytes()).await.unwrap();
    drop(held);
    assert_eq!(cx.backend.get(&p, b"after").await.unwrap(), Some(b("1")));
    let all = scan(&*cx.backend, &p, ScanRange::all()).await;
    assert_eq!(all.len(), 1000, "999 numbered keys plus 'after'");
    Ok(())
}

/// Writes `ks` (value = key) with batches of 100 when offered, else one put each.
async fn write_many<H: Harness>(cx: &Ctx<H>, p: &backend_api::Partition, ks: &[Bytes]) {
    for chunk in ks.chunks(100) {
        let ops: Vec<_> = chunk
            .iter()
            .map(|k| backend_api::Operation::put(p, k.clone(), k.clone()))
            .collect();
        match cx.backend.batch(ops).await {
            Ok(()) => {}
            Err(backend_api::Error::Unsupported { .. }) => put_keys(&*cx.backend, p, chunk).await,
            Err(e) => panic!("batch: {e}"),
        }
    }
}

/// Contract row "scan": a few thousand keys stream out complete and in order, forward
/// and reverse, read one item at a time (a backend that stops after one chunk, or
/// repeats the chunk boundary, fails here).
pub async fn scan_thousands_of_keys_streams_in_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("many_keys").await;
    let n = 3000u32;
    let ks: Vec<Bytes> = (0..n).map(|i| b(format!("key{:05}", i * 7 % n))).collect();
    write_many(&cx, &p, &ks).await;
    let mut sorted = ks.clone();
    sorted.sort();
    let stream = cx.backend.scan(&p, ScanRange::all()).await.unwrap();
    let pairs = drain(stream).await;
    let got: Vec<Bytes> = pairs.iter().map(|(k, _)| k.clone()).collect();
    if cx.caps.ordered_scan {
        assert_eq!(got.len(), sorted.len());
        assert!(
            got == sorted,
            "a large scan must yield every key once, in order"
        );
    } else {
        let mut got = got;
        got.sort();
        assert!(got == sorted, "a large scan must yield every key once");
    }
    assert!(pairs.iter().all(|(k, v)| k == v));
    if cx.caps.reverse_scan {
        let mut rev = scan_keys(&*cx.backend, &p, ScanRange::all().reverse()).await;
        rev.reverse();
        assert!(
            rev == sorted,
            "a large reverse scan must yield every key once, in order"
        );
    }
    let mid = scan_keys(&*cx.backend, &p, ScanRange::between("key01000", "key02500")).await;
    assert_eq!(mid.len(), 1500);
    Ok(())
}

/// Contract row "scan": keys not written during a scan always appear, each key at most
/// once, in order, while another task writes and deletes OTHER keys in the same range.
pub async fn scan_during_writes_sees_untouched_keys_once<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("live_scan").await;
    // Stable keys are even numbers, churned keys odd: interleaved in the key order.
    let stable: Vec<Bytes> = (0..1200u32).map(|i| b(format!("k{:06}", 2 * i))).collect();
    let churn: Vec<Bytes> = (0..1200u32)
        .map(|i| b(format!("k{:06}", 2 * i + 1)))
        .collect();
    write_many(&cx, &p, &stable).await;
    write_many(&cx, &p, &churn[..600]).await;
    let backend = cx.backend.clone();
    let p2 = p.clone();
    let writer = tokio::spawn(async move {
        for round in 0..3 {
            for (i, k) in churn.iter().enumerate() {
                if (i + round) % 2 == 0 {
                    backend.put(&p2, k, b"x").await.unwrap();
                } else {
                    backend.delete(&p2, k).await.unwrap();
                }
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
    });
    for reverse in [false, true] {
        if reverse && !cx.caps.reverse_scan {
            continue;
        }
        let mut r = ScanRange::all();
        if reverse {
            r = r.reverse();
        }
        let mut s = cx.backend.scan(&p, r).await.unwrap();
        let mut seen = Vec::new();
        while let Some(item) = s.next().await {
            seen.push(item.unwrap().0);
            if seen.len() % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        if cx.caps.ordered_scan {
            let ordered = seen
                .windows(2)
                .all(|w| if reverse { w[0] > w[1] } else { w[0] < w[1] });
            assert!(
                ordered,
                "scan during writes must stay strictly ordered (each key once)"
            );
        } else {
            let mut dedup = seen.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), seen.len(), "each key at most once");
        }
        let seen: std::collections::BTreeSet<Bytes> = seen.into_iter().collect();
        let missing = stable.iter().filter(|k| !seen.contains(*k)).count();
        assert_eq!(
            missing, 0,
            "keys not written during the scan must all appear"
        );
    }
    writer.await.unwrap();
    Ok(())
}

/// Contract row "scan" under `snapshot_scan`: a scan sees one point-in-time view. Puts,
/// overwrites and deletes made after the scan started (also ahead of its position)
/// never show in it.
pub async fn snapshot_scan_ignores_later_writes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(cx.caps.snapshot_scan, "snapshot_scan is false");
    let p = cx.partition("snapshot").await;
    let ks: Vec<Bytes> = (0..600u32).map(|i| b(format!("s{:04}", 2 * i))).collect();
    write_many(&cx, &p, &ks).await;
    let before = scan(&*cx.backend, &p, ScanRange::all()).await;
    let mut s = cx.backend.scan(&p, ScanRange::all()).await.unwrap();
    let mut seen = vec![s.next().await.expect("an item").expect("not an error")];
    for i in 0..600u32 {
        cx.backend
            .put(&p, format!("s{:04}", 2 * i + 1).as_bytes(), b"new")
            .await
            .unwrap();
    }
    for k in ks.iter().skip(300) {
        cx.backend.delete(&p, k).await.unwrap();
    }
    for k in ks.iter().skip(100).take(100) {
        cx.backend.put(&p, k, b"changed").await.unwrap();
    }
    while let Some(item) = s.next().await {
        seen.push(item.unwrap());
    }
    assert!(
        seen == before,
        "a snapshot scan showed writes made after it started"
    );
    Ok(())
}
