//! `scan_entries`: the scan with each key's expiry, as dump and copy read it.

use std::time::{Duration, SystemTime};

use backend_api::{Entry, Error, Partition, PutOptions, ScanRange, StorageBackend};
use futures_util::StreamExt;

use super::util::{assert_not_found, b, scan, wait_absent};
use crate::{Ctx, Harness, Outcome, Skip, require};

const HOUR: Duration = Duration::from_secs(3600);
/// How far a reported deadline may sit from the one the write asked for (the contract
/// promises a millisecond; this leaves room for a slow machine between two clock reads).
const SLACK: Duration = Duration::from_secs(1);

/// Every entry of `range`. A backend with `ttl` may not offer `scan_entries`: then the
/// answer must be `Unsupported`, and the case is skipped.
async fn entries(
    backend: &dyn StorageBackend,
    p: &Partition,
    range: ScanRange,
) -> Result<Vec<Entry>, Skip> {
    let mut stream = match backend.scan_entries(p, range).await {
        Ok(stream) => stream,
        Err(Error::Unsupported { .. }) if backend.capabilities().ttl => {
            return Err(Skip(
                "scan_entries answered Unsupported (the backend keeps TTLs but cannot report them)"
                    .into(),
            ));
        }
        Err(other) => panic!("scan_entries: {other}"),
    };
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.expect("scan_entries item"));
    }
    Ok(out)
}

/// Asserts `deadline` is `Some` and within [`SLACK`] of `[earliest, latest]`.
fn assert_deadline(
    key: &str,
    deadline: Option<SystemTime>,
    earliest: SystemTime,
    latest: SystemTime,
) {
    let Some(deadline) = deadline else {
        panic!("{key}: a TTL'd key was reported without a deadline");
    };
    assert!(
        deadline + SLACK >= earliest && deadline <= latest + SLACK,
        "{key}: deadline {deadline:?} outside [{earliest:?}, {latest:?}] (1 s slack)"
    );
}

/// Asserts `got` holds the keys and values of `want`, each deadline `None` on both sides
/// or within [`SLACK`] (the contract does not promise two reads the same nanosecond).
fn assert_same(got: &[Entry], want: &[Entry], what: &str) {
    let strip = |e: &[Entry]| -> Vec<_> {
        e.iter()
            .map(|e| (e.key.clone(), e.value.clone(), e.expires_at.is_some()))
            .collect()
    };
    assert_eq!(strip(got), strip(want), "{what}");
    for (g, w) in got.iter().zip(want) {
        if let (Some(g), Some(w)) = (g.expires_at, w.expires_at) {
            let apart = g.duration_since(w).unwrap_or_else(|e| e.duration());
            assert!(apart <= SLACK, "{what}: deadlines {g:?} and {w:?} differ");
        }
    }
}

/// Contract row "scan_entries": the same keys, values and order as `scan`; `None` for a
/// key without a TTL or whose TTL a later plain put cleared; the deadline a TTL write
/// asked for (relative or absolute) within a second; never an expired or zero-TTL key;
/// `keys_only`, `reverse`, `limit` and `prefix` as in `scan`; a missing partition is
/// `PartitionNotFound` (after `Unsupported`, as the error order says). Without `ttl`: every key with `None`, as `scan` gives them.
pub async fn scan_entries_report_deadlines<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("entries").await;
    let be = &*cx.backend;
    assert_eq!(entries(be, &p, ScanRange::all()).await?, vec![]);
    let missing = Partition::new("entries_missing").expect("valid name");
    assert_not_found(
        be.scan_entries(&missing, ScanRange::all()).await.map(drop),
        &missing,
        "scan_entries",
    );
    if !cx.caps.ttl {
        be.put(&p, b"a", b"1").await.unwrap();
        be.put(&p, b"b", b"2").await.unwrap();
        let got = entries(be, &p, ScanRange::all()).await?;
        assert_eq!(
            got,
            vec![Entry::new("a", "1", None), Entry::new("b", "2", None)],
            "without ttl every entry is the scan's pair with no deadline"
        );
        return Ok(());
    }
    let absolute = SystemTime::now() + 2 * HOUR;
    let before = SystemTime::now();
    be.put(&p, b"perm", b"p").await.unwrap();
    be.put_with(&p, b"hour", b"h", PutOptions::with_ttl(HOUR))
        .await
        .unwrap();
    be.put_with(&p, b"abs", b"a", PutOptions::expires_at(absolute))
        .await
        .unwrap();
    be.put_with(&p, b"cleared", b"old", PutOptions::with_ttl(HOUR))
        .await
        .unwrap();
    be.put(&p, b"cleared", b"c").await.unwrap();
    be.put_with(&p, b"zero", b"z", PutOptions::with_ttl(Duration::ZERO))
        .await
        .unwrap();
    be.put_with(
        &p,
        b"short",
        b"s",
        PutOptions::with_ttl(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let after = SystemTime::now();
    wait_absent(be, &p, b"short").await;

    let got = entries(be, &p, ScanRange::all()).await?;
    let pairs: Vec<_> = got
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(
        pairs,
        scan(be, &p, ScanRange::all()).await,
        "scan_entries and scan disagree (an expired or zero-TTL key showed?)"
    );
    let keys: Vec<_> = got.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, [b("abs"), b("cleared"), b("hour"), b("perm")]);
    assert_deadline("abs", got[0].expires_at, absolute, absolute);
    assert_eq!(got[1].expires_at, None, "a plain put kept the old deadline");
    assert_deadline("hour", got[2].expires_at, before + HOUR, after + HOUR);
    assert_eq!(got[3].expires_at, None, "a key without TTL got a deadline");

    let some = entries(be, &p, ScanRange::all().keys_only().reverse().limit(2)).await?;
    assert_same(
        &some,
        &[
            Entry::new("perm", "", None),
            Entry::new("hour", "", got[2].expires_at),
        ],
        "keys_only, reverse and limit as in scan, deadlines kept",
    );
    let prefixed = entries(be, &p, ScanRange::prefix("h")).await?;
    assert_same(&prefixed, &got[2..3], "prefix as in scan");
    Ok(())
}

/// Contract rows "scan_entries" and "Durability": a deadline survives a reopen as the
/// same absolute moment (not re-based on the reopen).
pub async fn scan_entries_deadline_survives_reopen<H: Harness>(h: H) -> Outcome {
    let mut cx = Ctx::new(h).await;
    require!(cx.caps.persistent, "persistent is false");
    require!(cx.caps.ttl, "ttl is false");
    let p = cx.partition("entries_durable").await;
    let before = SystemTime::now();
    cx.backend
        .put_with(&p, b"hour", b"h", PutOptions::with_ttl(HOUR))
        .await
        .unwrap();
    let after = SystemTime::now();
    cx.backend.put(&p, b"perm", b"p").await.unwrap();
    // Let the clock move, so a deadline re-based on the reopen would show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cx.reopen().await;
    let got = entries(&*cx.backend, &p, ScanRange::all()).await?;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_deadline("hour", got[0].expires_at, before + HOUR, after + HOUR);
    assert_eq!(got[1], Entry::new("perm", "p", None));
    Ok(())
}
