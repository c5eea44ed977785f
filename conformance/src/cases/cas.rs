//! Compare-and-swap: create-only, swap, delete, mismatch, concurrency.

use backend_api::{Bytes, CasOutcome, ScanRange};

use super::util::{assert_invalid_key, assert_invalid_value, assert_unsupported, b, scan_keys};
use crate::{Ctx, Harness, Outcome};

/// Without `compare_and_swap`, CAS answers `Unsupported` and writes nothing; then the
/// case is skipped.
macro_rules! require_cas {
    ($cx:expr) => {
        if !$cx.caps.compare_and_swap {
            let p = $cx.partition("cas_unsupported").await;
            assert_unsupported(
                $cx.backend
                    .compare_and_swap(&p, b"k", None, Some(b"v"))
                    .await,
                "compare_and_swap",
            );
            assert_eq!(
                $cx.backend.get(&p, b"k").await.unwrap(),
                None,
                "an unsupported CAS wrote"
            );
            return Err($crate::Skip(
                "compare_and_swap is false (checked: Unsupported)".into(),
            ));
        }
    };
}

fn mismatch(current: Option<&[u8]>) -> CasOutcome {
    CasOutcome::Mismatch {
        current: current.map(Bytes::copy_from_slice),
    }
}

/// Contract row "compare_and_swap": `expected = None` means "must be absent"
/// (create-only): it succeeds once, then mismatches with the current value.
pub async fn cas_create_only<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_cas!(cx);
    let p = cx.partition("cas_create").await;
    let be = &*cx.backend;
    assert_eq!(
        be.compare_and_swap(&p, b"k", None, Some(b"first"))
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(b("first")));
    assert_eq!(
        be.compare_and_swap(&p, b"k", None, Some(b"second"))
            .await
            .unwrap(),
        mismatch(Some(b"first"))
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(b("first")));
    be.delete(&p, b"k").await.unwrap();
    assert!(
        be.compare_and_swap(&p, b"k", None, Some(b"again"))
            .await
            .unwrap()
            .is_swapped(),
        "absent again after delete"
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(b("again")));
    Ok(())
}

/// Contract row "compare_and_swap": a matching expected value swaps; a mismatch writes
/// nothing and returns the current value (or `None` when the key is absent).
pub async fn cas_swap_and_mismatch_returns_current<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_cas!(cx);
    let p = cx.partition("cas_swap").await;
    let be = &*cx.backend;
    be.put(&p, b"k", b"v1").await.unwrap();
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b"v1"), Some(b"v2"))
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(b("v2")));
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b"v1"), Some(b"v3"))
            .await
            .unwrap(),
        mismatch(Some(b"v2"))
    );
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b"v"), Some(b"v3"))
            .await
            .unwrap(),
        mismatch(Some(b"v2")),
        "a prefix is not equal"
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(b("v2")));
    assert_eq!(
        be.compare_and_swap(&p, b"absent", Some(b"x"), Some(b"y"))
            .await
            .unwrap(),
        mismatch(None)
    );
    assert_eq!(be.get(&p, b"absent").await.unwrap(), None);
    assert_eq!(
        be.compare_and_swap(&p, &[0x00], None, Some(&[0xFF]))
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(
        be.compare_and_swap(&p, &[0x00], Some(&[0xFF]), Some(&[0x00]))
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(be.get(&p, &[0x00]).await.unwrap(), Some(b([0x00])));
    Ok(())
}

/// Contract row "compare_and_swap": `new = None` deletes the key when expected matches;
/// on mismatch the key stays.
pub async fn cas_delete<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_cas!(cx);
    let p = cx.partition("cas_delete").await;
    let be = &*cx.backend;
    be.put(&p, b"k", b"v").await.unwrap();
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b"other"), None)
            .await
            .unwrap(),
        mismatch(Some(b"v"))
    );
    assert!(be.exists(&p, b"k").await.unwrap());
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b"v"), None)
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), None);
    assert!(!be.exists(&p, b"k").await.unwrap());
    assert!(scan_keys(be, &p, ScanRange::all()).await.is_empty());
    Ok(())
}

/// Contract row "compare_and_swap": an empty value is not absence, both ways.
pub async fn cas_empty_value_is_not_absent<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_cas!(cx);
    let p = cx.partition("cas_empty").await;
    let be = &*cx.backend;
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b""), Some(b"x"))
            .await
            .unwrap(),
        mismatch(None)
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), None);
    assert_eq!(
        be.compare_and_swap(&p, b"k", None, Some(b""))
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(Bytes::new()));
    assert_eq!(
        be.compare_and_swap(&p, b"k", None, Some(b"x"))
            .await
            .unwrap(),
        mismatch(Some(b""))
    );
    assert_eq!(
        be.compare_and_swap(&p, b"k", Some(b""), Some(b"y"))
            .await
            .unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(be.get(&p, b"k").await.unwrap(), Some(b("y")));
    Ok(())
}

/// Contract rows "key", "value" for CAS: an empty or too-long key is `InvalidKey`, a
/// too-long new value `InvalidValue`, and nothing is written.
pub async fn cas_validates_key_and_value<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_cas!(cx);
    let p = cx.partition("cas_limits").await;
    let be = &*cx.backend;
    assert_invalid_key(
        be.compare_and_swap(&p, b"", None, Some(b"v")).await,
        "CAS with an empty key",
    );
    if cx.caps.max_key_len < (1 << 20) {
        let long = vec![7u8; cx.caps.max_key_len + 1];
        assert_invalid_key(
            be.compare_and_swap(&p, &long, None, Some(b"v")).await,
            "CAS with a too-long key",
        );
    }
    if cx.caps.max_value_len < (64 << 20) {
        let big = vec![7u8; cx.caps.max_value_len + 1];
        assert_invalid_value(
            be.compare_and_swap(&p, b"k", None, Some(&big)).await,
            "CAS with a too-long value",
        );
    }
    assert!(be.is_empty(&p).await.unwrap(), "a refused CAS wrote");
    Ok(())
}

/// Contract row "compare_and_swap": atomic. 32 tasks each add 1 to one counter 10 times
/// by CAS retry loops; the counter ends at exactly 320 and every task saw its own
/// increments succeed exactly 10 times (a get-then-put CAS loses updates here).
pub async fn cas_concurrent_increments_are_exact<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_cas!(cx);
    let p = cx.partition("cas_counter").await;
    const TASKS: u64 = 32;
    const EACH: u64 = 10;
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let backend = cx.backend.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut current = backend.get(&p, b"counter").await.unwrap();
            let mut done = 0;
            let mut attempts = 0u64;
            while done < EACH {
                attempts += 1;
                assert!(attempts < 100_000, "CAS retry loop did not converge");
                let n = current.as_ref().map_or(0, |v| {
                    u64::from_be_bytes(v[..].try_into().expect("8-byte counter"))
                });
                let next = (n + 1).to_be_bytes();
                match backend
                    .compare_and_swap(&p, b"counter", current.as_deref(), Some(&next))
                    .await
                    .unwrap()
                {
                    CasOutcome::Swapped => {
                        done += 1;
                        current = Some(Bytes::copy_from_slice(&next));
                    }
                    CasOutcome::Mismatch { current: now } => current = now,
                    other => panic!("unexpected {other:?}"),
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("incrementing task");
    }
    let v = cx
        .backend
        .get(&p, b"counter")
        .await
        .unwrap()
        .expect("counter");
    let n = u64::from_be_bytes(v[..].try_into().unwrap());
    assert_eq!(n, TASKS * EACH, "concurrent CAS increments lost updates");
    Ok(())
}
