//! TTL: expiry, already-past deadlines, overwrite semantics.

use std::time::{Duration, SystemTime};

use backend_api::{Bytes, CasOutcome, Operation, PutOptions, ScanRange};
use tokio::time::Instant;

use super::util::{assert_unsupported, b, batch_offered, scan_keys, wait_absent};
use crate::{Ctx, Harness, Outcome};

const SHORT: Duration = Duration::from_millis(300);

/// Without `ttl`, a put with a TTL (alone or in a batch) answers `Unsupported` and
/// writes nothing; then the case is skipped.
macro_rules! require_ttl {
    ($cx:expr) => {
        if !$cx.caps.ttl {
            let p = $cx.partition("ttl_unsupported").await;
            $cx.backend.put(&p, b"k", b"old").await.unwrap();
            assert_unsupported(
                $cx.backend
                    .put_with(&p, b"k", b"new", PutOptions::with_ttl(SHORT))
                    .await,
                "put_with ttl",
            );
            assert_unsupported(
                $cx.backend
                    .put_with(&p, b"j", b"new", PutOptions::with_ttl(Duration::ZERO))
                    .await,
                "put_with ttl",
            );
            assert_eq!(
                $cx.backend.get(&p, b"k").await.unwrap(),
                Some(b("old")),
                "an unsupported TTL put wrote"
            );
            assert_eq!(
                $cx.backend.get(&p, b"j").await.unwrap(),
                None,
                "an unsupported TTL put wrote"
            );
            return Err($crate::Skip("ttl is false (checked: Unsupported)".into()));
        }
    };
}

/// Contract row "TTL": after the deadline the key is invisible to get, exists, scan
/// and CAS (a CAS expecting the old value mismatches with `None`, a create-only CAS
/// succeeds), and the partition reads as empty; a key with a long TTL stays.
pub async fn ttl_expires<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl").await;
    let q = cx.partition("ttl_only").await;
    let be = &*cx.backend;
    let start = Instant::now();
    be.put_with(&p, b"soon", b"v", PutOptions::with_ttl(SHORT))
        .await
        .unwrap();
    be.put_with(&q, b"soon", b"v", PutOptions::with_ttl(SHORT))
        .await
        .unwrap();
    be.put_with(
        &p,
        b"later",
        b"v",
        PutOptions::with_ttl(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let early = be.get(&p, b"soon").await.unwrap();
    if start.elapsed() < SHORT / 2 {
        assert_eq!(early, Some(b("v")), "a key is visible before its TTL");
    }
    wait_absent(be, &p, b"soon").await;
    assert!(
        !be.exists(&p, b"soon").await.unwrap(),
        "exists sees an expired key"
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await,
        vec![b("later")],
        "scan sees an expired key"
    );
    assert_eq!(
        be.get_many(&p, &[b("soon"), b("later")]).await.unwrap(),
        vec![None, Some(b("v"))]
    );
    wait_absent(be, &q, b"soon").await;
    assert!(
        be.is_empty(&q).await.unwrap(),
        "a partition holding only expired keys is empty"
    );
    if cx.caps.compare_and_swap {
        assert_eq!(
            be.compare_and_swap(&p, b"soon", Some(b"v"), Some(b"w"))
                .await
                .unwrap(),
            CasOutcome::Mismatch { current: None },
            "CAS sees an expired key"
        );
        assert_eq!(
            be.compare_and_swap(&p, b"soon", None, Some(b"w"))
                .await
                .unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(be.get(&p, b"soon").await.unwrap(), Some(b("w")));
    }
    Ok(())
}

/// Contract row "TTL": a deadline already past (`ttl = Duration::ZERO`, `expires_at` in
/// the past) means the put is not visible at all, and it hides an older value: get,
/// exists, scan and CAS see the key as absent at once.
pub async fn ttl_zero_is_invisible_at_once<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl_zero").await;
    let be = &*cx.backend;
    be.put(&p, b"old", b"visible").await.unwrap();
    be.put(&p, b"keep", b"visible").await.unwrap();
    be.put_with(&p, b"old", b"hidden", PutOptions::with_ttl(Duration::ZERO))
        .await
        .unwrap();
    be.put_with(&p, b"new", b"hidden", PutOptions::with_ttl(Duration::ZERO))
        .await
        .unwrap();
    let past = SystemTime::now() - Duration::from_secs(60);
    be.put_with(&p, b"past", b"hidden", PutOptions::expires_at(past))
        .await
        .unwrap();
    for k in ["old", "new", "past"] {
        assert_eq!(
            be.get(&p, k.as_bytes()).await.unwrap(),
            None,
            "{k}: a zero-TTL put is visible"
        );
        assert!(
            !be.exists(&p, k.as_bytes()).await.unwrap(),
            "{k}: exists sees a zero-TTL put"
        );
    }
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, vec![b("keep")]);
    if cx.caps.compare_and_swap {
        assert_eq!(
            be.compare_and_swap(&p, b"old", Some(b"visible"), Some(b"x"))
                .await
                .unwrap(),
            CasOutcome::Mismatch { current: None }
        );
        assert!(
            be.compare_and_swap(&p, b"new", None, Some(b"x"))
                .await
                .unwrap()
                .is_swapped()
        );
    }
    Ok(())
}

/// Contract row "put": a put overwrites, TTL included: a plain put after a TTL put
/// makes the key permanent, and a TTL put after a plain one makes it expire.
pub async fn plain_put_clears_ttl<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    let p = cx.partition("ttl_overwrite").await;
    let be = &*cx.backend;
    be.put_with(&p, b"k", b"ttl", PutOptions::with_ttl(SHORT))
        .await
        .unwrap();
    be.put(&p, b"k", b"plain").await.unwrap();
    be.put(&p, b"j", b"plain").await.unwrap();
    be.put_with(&p, b"j", b"ttl", PutOptions::with_ttl(SHORT))
        .await
        .unwrap();
    wait_absent(be, &p, b"j").await;
    tokio::time::sleep(SHORT).await;
    assert_eq!(
        be.get(&p, b"k").await.unwrap(),
        Some(b("plain")),
        "a plain put kept the old TTL"
    );
    Ok(())
}

/// Contract rows "TTL" and "batch": TTLs inside a batch are honoured (a zero TTL is
/// invisible at once, a short one expires).
pub async fn ttl_in_batch<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_ttl!(cx);
    if !batch_offered(&*cx.backend, cx.caps.atomic_batch).await {
        return Err(crate::Skip("batch is not offered".into()));
    }
    let p = cx.partition("ttl_batch").await;
    let be = &*cx.backend;
    be.put(&p, b"z", b"old").await.unwrap();
    be.batch(vec![
        Operation::put_with(&p, "z", "hidden", PutOptions::with_ttl(Duration::ZERO)),
        Operation::put_with(&p, "s", "short", PutOptions::with_ttl(SHORT)),
        Operation::put(&p, "plain", Bytes::new()),
    ])
    .await
    .unwrap();
    assert_eq!(
        be.get(&p, b"z").await.unwrap(),
        None,
        "a zero-TTL batch put is visible"
    );
    wait_absent(be, &p, b"s").await;
    assert_eq!(scan_keys(be, &p, ScanRange::all()).await, vec![b("plain")]);
    Ok(())
}
