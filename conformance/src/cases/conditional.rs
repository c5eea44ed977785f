//! Conditional batches: checks and writes as one atomic step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backend_api::{BatchOutcome, Bytes, Check, Operation, Partition, PutOptions, ScanRange};

use super::util::{
    across, assert_invalid_key, assert_invalid_value, assert_not_found, assert_refused_across,
    assert_unsupported, b, conditional_offered, del_ev, events_until, num, put_ev, scan,
    unless_refused_across, wait_absent, watch_offered,
};
use crate::{Ctx, Harness, Outcome, require};

macro_rules! require_conditional {
    ($cx:expr) => {
        require!(
            conditional_offered(&*$cx.backend, $cx.caps).await,
            "conditional_batch is false (checked: Unsupported, nothing written)"
        )
    };
}

/// Contract row "conditional_batch": when every check holds (a value, an absent key),
/// every operation is applied in order across partitions and the answer is `Applied`;
/// no checks at all is a plain atomic batch; an empty conditional batch is `Applied`.
pub async fn conditional_batch_applies_when_checks_hold<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let a = cx.partition("cond_a").await;
    let bp = cx.partition("cond_b").await;
    across(&*cx.backend, cx.caps, &a, &bp).await?;
    let be = &*cx.backend;
    be.put(&a, b"x", b"1").await.unwrap();
    be.put(&bp, b"gone", b"g").await.unwrap();
    let out = be
        .conditional_batch(
            vec![Check::equals(&a, "x", "1"), Check::absent(&bp, "y")],
            vec![
                Operation::put(&a, "x", "2"),
                Operation::put(&bp, "y", "new"),
                Operation::put(&a, "x", "3"),
                Operation::delete(&bp, "gone"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out, BatchOutcome::Applied);
    assert_eq!(be.get(&a, b"x").await.unwrap(), Some(b("3")), "order");
    assert_eq!(be.get(&bp, b"y").await.unwrap(), Some(b("new")));
    assert_eq!(be.get(&bp, b"gone").await.unwrap(), None);
    let out = be
        .conditional_batch(Vec::new(), vec![Operation::put(&a, "nochecks", "1")])
        .await
        .unwrap();
    assert_eq!(out, BatchOutcome::Applied, "no checks: a plain batch");
    assert_eq!(be.get(&a, b"nochecks").await.unwrap(), Some(b("1")));
    assert_eq!(
        be.conditional_batch(Vec::new(), Vec::new()).await.unwrap(),
        BatchOutcome::Applied,
        "an empty conditional batch"
    );
    // Checks only: a consistent read of several keys.
    assert_eq!(
        be.conditional_batch(vec![Check::equals(&a, "x", "3")], Vec::new())
            .await
            .unwrap(),
        BatchOutcome::Applied
    );
    Ok(())
}

/// Contract row "conditional_batch": a failing check writes nothing (puts, deletes,
/// across partitions) and the answer names the FIRST failing check in order with what
/// its key held (`None` when absent).
pub async fn failed_check_writes_nothing<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let a = cx.partition("condf_a").await;
    let bp = cx.partition("condf_b").await;
    across(&*cx.backend, cx.caps, &a, &bp).await?;
    let be = &*cx.backend;
    be.put(&a, b"x", b"1").await.unwrap();
    be.put(&bp, b"keep", b"k").await.unwrap();
    let ops = || {
        vec![
            Operation::put(&a, "x", "changed"),
            Operation::put(&bp, "new", "1"),
            Operation::delete(&bp, "keep"),
        ]
    };
    let cases: Vec<(Vec<Check>, usize, Option<Bytes>)> = vec![
        (vec![Check::equals(&a, "x", "2")], 0, Some(b("1"))),
        (
            vec![Check::equals(&a, "x", "1"), Check::absent(&a, "x")],
            1,
            Some(b("1")),
        ),
        (
            vec![
                Check::absent(&bp, "new"),
                Check::equals(&bp, "missing", "v"),
                Check::equals(&a, "x", "wrong"),
            ],
            1,
            None,
        ),
        (vec![Check::equals(&bp, "keep", "")], 0, Some(b("k"))),
    ];
    for (checks, index, current) in cases {
        let what = format!("{checks:?}");
        let out = be.conditional_batch(checks, ops()).await.unwrap();
        assert_eq!(
            out,
            BatchOutcome::CheckFailed { index, current },
            "checks {what}"
        );
        assert_eq!(
            be.get(&a, b"x").await.unwrap(),
            Some(b("1")),
            "{what}: wrote"
        );
        assert_eq!(be.get(&bp, b"new").await.unwrap(), None, "{what}: wrote");
        assert_eq!(
            be.get(&bp, b"keep").await.unwrap(),
            Some(b("k")),
            "{what}: deleted"
        );
    }
    Ok(())
}

/// Contract row "conditional_batch": `expected: None` holds for a key never written,
/// deleted, expired or written with a zero TTL; a check expecting the old value of an
/// expired key fails with `current: None`; an empty value is not absent.
pub async fn checks_on_absent_and_expired_keys<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let p = cx.partition("cond_absent").await;
    let be = &*cx.backend;
    be.put(&p, b"deleted", b"x").await.unwrap();
    be.delete(&p, b"deleted").await.unwrap();
    be.put(&p, b"empty", b"").await.unwrap();
    let mut absent = vec!["never", "deleted"];
    if cx.caps.ttl {
        be.put(&p, b"zero", b"old").await.unwrap();
        be.put_with(&p, b"zero", b"z", PutOptions::with_ttl(Duration::ZERO))
            .await
            .unwrap();
        be.put_with(
            &p,
            b"expired",
            b"old",
            PutOptions::with_ttl(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        wait_absent(be, &p, b"expired").await;
        absent.extend(["zero", "expired"]);
        assert_eq!(
            be.conditional_batch(vec![Check::equals(&p, "expired", "old")], Vec::new())
                .await
                .unwrap(),
            BatchOutcome::CheckFailed {
                index: 0,
                current: None
            },
            "a check sees an expired value"
        );
    }
    for k in &absent {
        let out = be
            .conditional_batch(
                vec![Check::absent(&p, *k)],
                vec![Operation::put(&p, *k, "now")],
            )
            .await
            .unwrap();
        assert_eq!(out, BatchOutcome::Applied, "{k} must count as absent");
        assert_eq!(be.get(&p, k.as_bytes()).await.unwrap(), Some(b("now")));
    }
    assert_eq!(
        be.conditional_batch(vec![Check::absent(&p, "empty")], Vec::new())
            .await
            .unwrap(),
        BatchOutcome::CheckFailed {
            index: 0,
            current: Some(Bytes::new())
        },
        "an empty value is not absent"
    );
    assert!(
        be.conditional_batch(vec![Check::equals(&p, "empty", "")], Vec::new())
            .await
            .unwrap()
            .is_applied()
    );
    Ok(())
}

/// Contract row "conditional_batch": checks may name other partitions than the writes;
/// a check on a missing partition is `PartitionNotFound` naming it, and nothing is
/// written.
pub async fn checks_across_partitions<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let lock = cx.partition("condx_lock").await;
    let data = cx.partition("condx_data").await;
    across(&*cx.backend, cx.caps, &lock, &data).await?;
    let missing = Partition::new("condx_missing").unwrap();
    let be = &*cx.backend;
    be.put(&lock, b"owner", b"me").await.unwrap();
    let write = || vec![Operation::put(&data, "k", "v")];
    assert!(
        be.conditional_batch(vec![Check::equals(&lock, "owner", "me")], write())
            .await
            .unwrap()
            .is_applied()
    );
    be.delete(&data, b"k").await.unwrap();
    assert_eq!(
        be.conditional_batch(vec![Check::equals(&lock, "owner", "you")], write())
            .await
            .unwrap(),
        BatchOutcome::CheckFailed {
            index: 0,
            current: Some(b("me"))
        }
    );
    assert_eq!(be.get(&data, b"k").await.unwrap(), None);
    assert_not_found(
        be.conditional_batch(vec![Check::absent(&missing, "k")], write())
            .await,
        &missing,
        "check on a missing partition",
    );
    assert_not_found(
        be.conditional_batch(
            vec![Check::absent(&data, "k")],
            vec![
                Operation::put(&data, "k", "v"),
                Operation::put(&missing, "k", "v"),
            ],
        )
        .await,
        &missing,
        "write to a missing partition",
    );
    assert_eq!(be.get(&data, b"k").await.unwrap(), None, "wrote");
    Ok(())
}

/// Contract "Decided edges", order of errors, for conditional batches: argument errors
/// (each check's key, then each operation's key, value, unsupported option) come before
/// missing partitions, and both before the checks are evaluated: a failing check never
/// hides an invalid argument. Nothing is written.
pub async fn conditional_batch_validation_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let p = cx.partition("condv").await;
    let missing = Partition::new("condv_missing").unwrap();
    let be = &*cx.backend;
    be.put(&p, b"x", b"1").await.unwrap();
    let failing = || Check::equals(&p, "x", "not 1");
    let caps = cx.caps;
    let what = "empty check key after a check on a missing partition";
    if let Some(r) = unless_refused_across(
        caps,
        be.conditional_batch(
            vec![
                Check::absent(&missing, "k"),
                Check::absent(&p, Bytes::new()),
            ],
            vec![Operation::put(&p, "w", "1")],
        )
        .await,
        what,
    ) {
        assert_invalid_key(r, what);
    }
    let what = "empty op key with a failing check and a missing partition";
    if let Some(r) = unless_refused_across(
        caps,
        be.conditional_batch(
            vec![failing(), Check::absent(&missing, "k")],
            vec![
                Operation::put(&p, "w", "1"),
                Operation::put(&p, Bytes::new(), "1"),
            ],
        )
        .await,
        what,
    ) {
        assert_invalid_key(r, what);
    }
    if cx.caps.max_value_len < (64 << 20) {
        assert_invalid_value(
            be.conditional_batch(
                vec![failing()],
                vec![Operation::put(
                    &p,
                    "w",
                    vec![0u8; cx.caps.max_value_len + 1],
                )],
            )
            .await,
            "value too long with a failing check",
        );
    }
    let what = "missing partition with a failing check";
    if let Some(r) = unless_refused_across(
        caps,
        be.conditional_batch(vec![failing()], vec![Operation::put(&missing, "w", "1")])
            .await,
        what,
    ) {
        assert_not_found(r, &missing, what);
    }
    if !cx.caps.ttl {
        // Unsupported either way: the TTL, or the two partitions.
        assert_unsupported(
            be.conditional_batch(
                vec![Check::absent(&missing, "k")],
                vec![Operation::put_with(
                    &p,
                    "w",
                    "1",
                    PutOptions::with_ttl(Duration::from_secs(5)),
                )],
            )
            .await,
            "a TTL without ttl, before a missing partition",
        );
    }
    assert_eq!(be.get(&p, b"w").await.unwrap(), None, "wrote");
    assert_eq!(be.get(&p, b"x").await.unwrap(), Some(b("1")));
    Ok(())
}

const ACCOUNTS: usize = 4;
const START: u64 = 1_000;

fn account(i: usize) -> Bytes {
    b(format!("acct{i}"))
}

/// Contract row "conditional_batch": N concurrent transfers between a few keys keep
/// their sum. 8 tasks each make 40 transfers between 4 accounts (read both, then a
/// conditional batch checking both still hold what was read; retry on `CheckFailed`).
/// Meanwhile a reader confirms its reads with a checks-only conditional batch: every
/// confirmed read of all four accounts sums to the total (no reader sees half a
/// transfer).
pub async fn concurrent_transfers_keep_their_sum<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let p = cx.partition("transfers").await;
    for i in 0..ACCOUNTS {
        cx.backend
            .put(&p, &account(i), &START.to_be_bytes())
            .await
            .unwrap();
    }
    let total = START * ACCOUNTS as u64;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (be, p, done) = (cx.backend.clone(), p.clone(), done.clone());
        tokio::spawn(async move {
            let mut confirmed = 0u32;
            while !done.load(Ordering::Acquire) || confirmed == 0 {
                let keys: Vec<Bytes> = (0..ACCOUNTS).map(account).collect();
                let values = be.get_many(&p, &keys).await.unwrap();
                let checks = keys
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| Check::new(&p, k.clone(), v.clone()))
                    .collect();
                if be
                    .conditional_batch(checks, Vec::new())
                    .await
                    .unwrap()
                    .is_applied()
                {
                    let sum: u64 = values
                        .iter()
                        .map(|v| num(v.as_deref().expect("an account")))
                        .sum();
                    assert_eq!(
                        sum, total,
                        "a confirmed read saw half a transfer: {values:?}"
                    );
                    confirmed += 1;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let (be, p) = (cx.backend.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut retries = 0u32;
            for n in 0..40usize {
                let from = account((t + n) % ACCOUNTS);
                let to = account((t + n + 1 + n % 2) % ACCOUNTS);
                loop {
                    let got = be.get_many(&p, &[from.clone(), to.clone()]).await.unwrap();
                    let (f, d) = (got[0].clone().expect("from"), got[1].clone().expect("to"));
                    let amount = (num(&f) % 7).min(num(&f));
                    let out = be
                        .conditional_batch(
                            vec![
                                Check::equals(&p, from.clone(), f.clone()),
                                Check::equals(&p, to.clone(), d.clone()),
                            ],
                            vec![
                                Operation::put(
                                    &p,
                                    from.clone(),
                                    (num(&f) - amount).to_be_bytes().to_vec(),
                                ),
                                Operation::put(
                                    &p,
                                    to.clone(),
                                    (num(&d) + amount).to_be_bytes().to_vec(),
                                ),
                            ],
                        )
                        .await
                        .unwrap();
                    if out.is_applied() {
                        break;
                    }
                    retries += 1;
                    assert!(retries < 1_000_000, "transfer livelock");
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("transfer task");
    }
    done.store(true, Ordering::Release);
    reader.await.expect("reader");
    let sum: u64 = scan(&*cx.backend, &p, ScanRange::all())
        .await
        .iter()
        .map(|(_, v)| num(v))
        .sum();
    assert_eq!(sum, total, "concurrent transfers lost or made money");
    Ok(())
}

/// Contract row "conditional_batch": no reader sees part of one. A writer applies 200
/// conditional batches, each checking the generation it expects and setting 6 keys in
/// two partitions to the next; readers read the keys one by one in write order and never
/// see a later key older than an earlier one.
pub async fn readers_never_see_half_a_conditional_batch<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    let a = cx.partition("condh_a").await;
    let bp = cx.partition("condh_b").await;
    if !cx.caps.cross_partition_batch {
        // Checked refused; the conditional batches below then stay in one partition.
        assert_refused_across(&*cx.backend, cx.caps, &a, &bp).await;
    }
    let bp = if cx.caps.cross_partition_batch {
        bp
    } else {
        a.clone()
    };
    let keys: Vec<(Partition, Bytes)> = (0..6u8)
        .map(|i| {
            (
                if i % 2 == 0 { a.clone() } else { bp.clone() },
                b([b'k', i]),
            )
        })
        .collect();
    let ops = |n: u64| -> Vec<Operation> {
        keys.iter()
            .map(|(p, k)| Operation::put(p, k.clone(), n.to_be_bytes().to_vec()))
            .collect()
    };
    let first = cx.backend.conditional_batch(Vec::new(), ops(0)).await;
    assert!(first.unwrap().is_applied());
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (be, keys, done) = (cx.backend.clone(), keys.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) || rounds < 3 {
                let mut last = 0;
                for (i, (p, k)) in keys.iter().enumerate() {
                    let n = num(&be.get(p, k).await.unwrap().expect("written"));
                    assert!(
                        n >= last,
                        "half a conditional batch: key {i} holds {n} after {last}"
                    );
                    last = n;
                }
                rounds += 1;
                tokio::task::yield_now().await;
            }
        }));
    }
    for n in 1..=200u64 {
        let out = cx
            .backend
            .conditional_batch(
                vec![Check::equals(
                    &keys[0].0,
                    keys[0].1.clone(),
                    (n - 1).to_be_bytes().to_vec(),
                )],
                ops(n),
            )
            .await
            .unwrap();
        assert!(out.is_applied(), "generation {n}: {out:?}");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.await.expect("reader");
    }
    Ok(())
}

/// Contract row "watch": an applied conditional batch reports each of its writes, in
/// order per key; a failed one reports nothing.
pub async fn watch_reports_conditional_writes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_conditional!(cx);
    require!(
        watch_offered(&*cx.backend, cx.caps).await,
        "watch is false (checked: Unsupported)"
    );
    let p = cx.partition("condw").await;
    let be = &*cx.backend;
    be.put(&p, b"x", b"0").await.unwrap();
    let mut w = be.watch(&p, b"").await.unwrap();
    let out = be
        .conditional_batch(
            vec![Check::equals(&p, "x", "wrong")],
            vec![Operation::put(&p, "failed", "1")],
        )
        .await
        .unwrap();
    assert!(!out.is_applied());
    be.conditional_batch(
        vec![Check::equals(&p, "x", "0")],
        vec![
            Operation::put(&p, "x", "1"),
            Operation::put(&p, "y", "2"),
            Operation::delete(&p, "x"),
        ],
    )
    .await
    .unwrap();
    be.put(&p, b"end", b"").await.unwrap();
    let events = events_until(&mut w, b"end").await;
    let of = |k: &str| -> Vec<_> {
        events
            .iter()
            .filter(|e| matches!(e, backend_api::WatchEvent::Put { key, .. } | backend_api::WatchEvent::Delete { key } if key == k.as_bytes()))
            .cloned()
            .collect()
    };
    assert_eq!(of("x"), vec![put_ev("x", "1"), del_ev("x")]);
    assert_eq!(of("y"), vec![put_ev("y", "2")]);
    assert!(
        of("failed").is_empty(),
        "a failed conditional batch was reported"
    );
    assert_eq!(events.len(), 4, "unexpected events: {events:?}");
    Ok(())
}
