//! TTL timing and every path that reads or clears a TTL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_api::{BatchOutcome, CasOutcome, Check, Operation, PutOptions, ScanRange};
use tokio::time::Instant;

use super::util::{b, batch_offered, conditional_offered, scan_keys, wait_absent};
use crate::{Ctx, Harness, Outcome, require};

const TTL: Duration = Duration::from_millis(100);
/// By when a 100 ms TTL must have taken effect.
const BY: Duration = Duration::from_millis(600);

macro_rules! require_ttl {
    ($cx:expr) => {
        if !$cx.caps.ttl {
            let p = $cx.partition("ttlp_unsupported").await;
            super::util::assert_unsupported(
                $cx.backend
                    .put_with(&p, b"k", b"v", PutOptions::with_ttl(TTL))
                    .await,
                "put_with ttl",
            );
            return Err($crate::Skip("ttl is false (checked: Unsupported)".into()));
        }
    };
}

/// Sleeps until `BY` after `start`.
async fn until_by(start: Instant) {
    tokio::time::sleep_until(start + BY).await;
}

/// Contract "Decided edges", TTL: a key written with a TTL of 100 ms reads as absent
/// well before a second has passed: at 600 ms after the write.
pub async fn ttl_expires_within_600ms<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl_timing").await;
    let start = Instant::now();
    cx.backend
        .put_with(&p, b"k", b"v", PutOptions::with_ttl(TTL))
        .await
        .unwrap();
    until_by(start).await;
    assert_eq!(
        cx.backend.get(&p, b"k").await.unwrap(),
        None,
        "a 100 ms TTL had not taken effect after 600 ms"
    );
    Ok(())
}

/// Contract "Decided edges", TTL: an expired key is absent on every read path at once:
/// get, get_many, exists, forward, reverse, keys-only and limited scans, len (under
/// `exact_len`), is_empty, CAS and conditional-batch checks (expecting the old value
/// fails with `current: None`; expecting absent holds). A live TTL value compares by
/// its own bytes.
pub async fn expiry_seen_by_every_read_path<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl_paths").await;
    let only = cx.partition("ttl_only_expired").await;
    let be = &*cx.backend;
    let start = Instant::now();
    for k in ["a", "c", "e"] {
        be.put_with(&p, k.as_bytes(), b"old", PutOptions::with_ttl(TTL))
            .await
            .unwrap();
    }
    be.put_with(&only, b"x", b"old", PutOptions::with_ttl(TTL))
        .await
        .unwrap();
    for k in ["b", "d"] {
        be.put(&p, k.as_bytes(), b"live").await.unwrap();
    }
    be.put_with(
        &p,
        b"t",
        b"ttl-live",
        PutOptions::with_ttl(Duration::from_secs(600)),
    )
    .await
    .unwrap();
    until_by(start).await;
    let live = vec![b("b"), b("d"), b("t")];
    assert_eq!(be.get(&p, b"a").await.unwrap(), None, "get");
    assert!(!be.exists(&p, b"c").await.unwrap(), "exists");
    assert_eq!(
        be.get_many(&p, &[b("a"), b("b"), b("e")]).await.unwrap(),
        vec![None, Some(b("live")), None],
        "get_many"
    );
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, live, "scan");
    assert_eq!(
        scan_keys(be, &p, ScanRange::all().keys_only()).await,
        live,
        "keys-only scan"
    );
    if cx.caps.ordered_scan {
        assert_eq!(
            scan_keys(be, &p, ScanRange::all().limit(1)).await,
            vec![b("b")],
            "limited scan counts an expired key"
        );
    }
    if cx.caps.reverse_scan {
        let mut rev = live.clone();
        rev.reverse();
        assert_eq!(
            scan_keys(be, &p, ScanRange::all().reverse()).await,
            rev,
            "reverse scan"
        );
        assert_eq!(
            scan_keys(be, &p, ScanRange::all().reverse().limit(2).keys_only()).await,
            vec![b("t"), b("d")],
            "reverse limited keys-only scan"
        );
    }
    if cx.caps.exact_len {
        assert_eq!(be.len(&p).await.unwrap(), 3, "len counts expired keys");
        assert_eq!(be.len(&only).await.unwrap(), 0, "len counts expired keys");
    }
    assert!(be.is_empty(&only).await.unwrap(), "is_empty");
    if cx.caps.compare_and_swap {
        assert_eq!(
            be.compare_and_swap(&p, b"a", Some(b"old"), Some(b"x"))
                .await
                .unwrap(),
            CasOutcome::Mismatch { current: None },
            "CAS sees an expired value"
        );
        assert!(
            be.compare_and_swap(&p, b"a", None, Some(b"new"))
                .await
                .unwrap()
                .is_swapped(),
            "CAS: an expired key is absent"
        );
        assert_eq!(be.get(&p, b"a").await.unwrap(), Some(b("new")));
        assert!(
            be.compare_and_swap(&p, b"t", Some(b"ttl-live"), None)
                .await
                .unwrap()
                .is_swapped(),
            "a live TTL value compares by its own bytes"
        );
    }
    if conditional_offered(be, cx.caps).await {
        assert_eq!(
            be.conditional_batch(vec![Check::equals(&p, "c", "old")], Vec::new())
                .await
                .unwrap(),
            BatchOutcome::CheckFailed {
                index: 0,
                current: None
            },
            "a check sees an expired value"
        );
        // Two partitions where batches may span them, else the same check alone.
        let mut checks = vec![Check::absent(&p, "c")];
        if cx.caps.cross_partition_batch {
            checks.push(Check::absent(&only, "x"));
        }
        assert!(
            be.conditional_batch(checks, vec![Operation::put(&p, "c", "new")])
                .await
                .unwrap()
                .is_applied(),
            "a check: an expired key is absent"
        );
    }
    Ok(())
}

/// Contract "Decided edges", TTL: `compact` keeps TTLs (a long TTL still holds, a short
/// one still expires) and never brings back the value an expired write hid.
pub async fn ttl_survives_compact<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    require!(cx.caps.compact, "compact is false");
    let p = cx.partition("ttl_compact").await;
    let be = &*cx.backend;
    be.put(&p, b"hidden", b"old").await.unwrap();
    be.flush().await.unwrap();
    be.compact(&p).await.unwrap();
    let start = Instant::now();
    be.put_with(&p, b"hidden", b"new", PutOptions::with_ttl(TTL))
        .await
        .unwrap();
    be.put_with(
        &p,
        b"short",
        b"v",
        PutOptions::with_ttl(Duration::from_millis(700)),
    )
    .await
    .unwrap();
    be.put_with(
        &p,
        b"long",
        b"v",
        PutOptions::with_ttl(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    be.flush().await.unwrap();
    be.compact(&p).await.unwrap();
    until_by(start).await;
    be.compact(&p).await.unwrap();
    assert_eq!(
        be.get(&p, b"hidden").await.unwrap(),
        None,
        "compaction brought back a value an expired write hid"
    );
    assert_eq!(be.get(&p, b"long").await.unwrap(), Some(b("v")));
    wait_absent(be, &p, b"short").await;
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, vec![b("long")]);
    Ok(())
}

/// Contract "Decided edges", TTL: every write without a TTL clears an older TTL: put,
/// put_with without one, a batch put, a batch put_with without one, CAS, and a
/// conditional batch. Each key is first written with a 400 ms TTL, then overwritten;
/// a second after the first write every one is still there.
pub async fn every_write_path_clears_ttl<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl_clear").await;
    let be = &*cx.backend;
    let mut paths = vec!["put", "put_with"];
    let batch = batch_offered(be, cx.caps.atomic_batch).await;
    if batch {
        paths.extend(["batch", "batch_with"]);
    }
    if cx.caps.compare_and_swap {
        paths.push("cas");
    }
    let conditional = conditional_offered(be, cx.caps).await;
    if conditional {
        paths.push("conditional");
    }
    const OLD_TTL: Duration = Duration::from_millis(400);
    let start = Instant::now();
    for k in &paths {
        be.put_with(&p, k.as_bytes(), b"ttl", PutOptions::with_ttl(OLD_TTL))
            .await
            .unwrap();
    }
    be.put(&p, b"put", b"v").await.unwrap();
    be.put_with(&p, b"put_with", b"v", PutOptions::default())
        .await
        .unwrap();
    if batch {
        be.batch(vec![
            Operation::put(&p, "batch", "v"),
            Operation::put_with(&p, "batch_with", "v", PutOptions::default()),
        ])
        .await
        .unwrap();
    }
    if cx.caps.compare_and_swap {
        assert!(
            be.compare_and_swap(&p, b"cas", Some(b"ttl"), Some(b"v"))
                .await
                .unwrap()
                .is_swapped()
        );
    }
    if conditional {
        assert!(
            be.conditional_batch(
                vec![Check::equals(&p, "conditional", "ttl")],
                vec![Operation::put(&p, "conditional", "v")]
            )
            .await
            .unwrap()
            .is_applied()
        );
    }
    assert!(
        start.elapsed() < OLD_TTL,
        "the overwrites took longer than the TTL; the case cannot judge this backend"
    );
    tokio::time::sleep_until(start + Duration::from_secs(1)).await;
    for k in &paths {
        assert_eq!(
            be.get(&p, k.as_bytes()).await.unwrap(),
            Some(b("v")),
            "a write by {k} kept the older TTL"
        );
    }
    Ok(())
}

/// Contract "Decided edges", TTL: hostile values answer without a panic. A TTL of
/// `Duration::MAX` and a deadline a century ahead never expire in practice; a deadline
/// at the Unix epoch is a TTL of zero; a one-nanosecond TTL is accepted. Alone and in
/// a batch.
pub async fn hostile_ttl_values<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl_hostile").await;
    let be = &*cx.backend;
    let century = SystemTime::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let forever = [
        ("max", PutOptions::with_ttl(Duration::MAX)),
        (
            "u64_secs",
            PutOptions::with_ttl(Duration::from_secs(u64::MAX)),
        ),
        ("century", PutOptions::expires_at(century)),
    ];
    let never = [
        ("epoch", PutOptions::expires_at(UNIX_EPOCH)),
        ("nano", PutOptions::with_ttl(Duration::from_nanos(1))),
    ];
    for (k, o) in forever.iter().chain(&never) {
        be.put_with(&p, k.as_bytes(), b"v", *o)
            .await
            .unwrap_or_else(|e| panic!("put_with {k}: {e}"));
    }
    if batch_offered(be, cx.caps.atomic_batch).await {
        let ops = forever
            .iter()
            .chain(&never)
            .map(|(k, o)| Operation::put_with(&p, format!("batch_{k}"), "v", *o))
            .collect();
        be.batch(ops).await.expect("a batch of hostile TTLs");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    for (k, _) in &forever {
        assert_eq!(
            be.get(&p, k.as_bytes()).await.unwrap(),
            Some(b("v")),
            "{k} expired"
        );
    }
    for (k, _) in &never {
        assert_eq!(
            be.get(&p, k.as_bytes()).await.unwrap(),
            None,
            "{k} is visible"
        );
    }
    let n = scan_keys(be, &p, ScanRange::all()).await.len();
    assert!(
        n == forever.len() || n == 2 * forever.len(),
        "scan saw {n} keys"
    );
    be.compact(&p).await.ok();
    assert_eq!(be.get(&p, b"max").await.unwrap(), Some(b("v")));
    Ok(())
}
