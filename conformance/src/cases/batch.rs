//! Batches: order, atomicity, whole-batch validation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backend_api::{Bytes, Operation, Partition, ScanRange};

use super::util::{
    across, assert_invalid_key, assert_invalid_value, assert_not_found, assert_refused_across, b,
    batch_offered, scan,
};
use crate::{Ctx, Harness, Outcome, require};

/// Skips the case when the backend offers no batch at all (allowed only without
/// `atomic_batch`; the probe checks the answer is `Unsupported`).
macro_rules! require_batch {
    ($cx:expr) => {
        require!(
            batch_offered(&*$cx.backend, $cx.caps.atomic_batch).await,
            "batch is not offered (atomic_batch is false; checked: Unsupported)"
        )
    };
}

/// Contract row "batch": puts and deletes across partitions are applied in order (a
/// later op on the same key wins; put-then-delete leaves nothing).
pub async fn batch_applies_in_order_across_partitions<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_batch!(cx);
    let a = cx.partition("batch_a").await;
    let bp = cx.partition("batch_b").await;
    across(&*cx.backend, cx.caps, &a, &bp).await?;
    cx.backend.put(&a, b"gone", b"old").await.unwrap();
    cx.backend
        .batch(vec![
            Operation::put(&a, "k", "1"),
            Operation::put(&bp, "k", "b1"),
            Operation::put(&a, "k", "2"),
            Operation::delete(&a, "gone"),
            Operation::put(&a, "tmp", "x"),
            Operation::delete(&a, "tmp"),
            Operation::delete(&bp, "never_there"),
            Operation::delete(&a, "back"),
            Operation::put(&a, "back", ""),
            Operation::put(&bp, vec![0xFFu8, 0x00], vec![0u8, 0xFF]),
        ])
        .await
        .unwrap();
    assert_eq!(
        scan(&*cx.backend, &a, ScanRange::all())
            .await
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        [(b("back"), Bytes::new()), (b("k"), b("2"))]
            .into_iter()
            .collect()
    );
    assert_eq!(cx.backend.get(&bp, b"k").await.unwrap(), Some(b("b1")));
    assert_eq!(
        cx.backend.get(&bp, &[0xFF, 0x00]).await.unwrap(),
        Some(b([0, 0xFF]))
    );
    Ok(())
}

/// Contract row "batch": an empty batch is Ok and writes nothing.
pub async fn empty_batch_is_ok<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_batch!(cx);
    let p = cx.partition("empty_batch").await;
    cx.backend.batch(Vec::new()).await.expect("empty batch");
    assert!(cx.backend.is_empty(&p).await.unwrap());
    Ok(())
}

/// Contract row "batch": any invalid op (empty key, key one byte too long, value one
/// byte too long, missing partition), placed last after valid ones, rejects the whole
/// batch with its error before anything is written: old values stay, new keys stay
/// absent.
pub async fn batch_with_one_invalid_op_writes_nothing<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_batch!(cx);
    let a = cx.partition("bad_a").await;
    let bp = cx.partition("bad_b").await;
    across(&*cx.backend, cx.caps, &a, &bp).await?;
    let missing = Partition::new("bad_missing").unwrap();
    cx.backend.put(&a, b"old", b"kept").await.unwrap();
    let valid = || {
        vec![
            Operation::put(&a, "new", "1"),
            Operation::put(&a, "old", "changed"),
            Operation::delete(&a, "old2"),
            Operation::put(&bp, "new", "1"),
        ]
    };
    let max_k = cx.caps.max_key_len;
    let max_v = cx.caps.max_value_len;
    let mut bad: Vec<(&str, Operation)> = vec![
        ("empty key", Operation::put(&bp, Bytes::new(), "v")),
        ("empty key delete", Operation::delete(&bp, Bytes::new())),
        ("missing partition", Operation::put(&missing, "k", "v")),
        ("missing partition delete", Operation::delete(&missing, "k")),
    ];
    if max_k < (1 << 20) {
        bad.push((
            "key too long",
            Operation::put(&bp, vec![1u8; max_k + 1], "v"),
        ));
    }
    if max_v < (64 << 20) {
        bad.push((
            "value too long",
            Operation::put(&bp, "k", vec![1u8; max_v + 1]),
        ));
    }
    for (what, op) in bad {
        let mut ops = valid();
        ops.push(op);
        let r = cx.backend.batch(ops).await;
        match what {
            "missing partition" | "missing partition delete" => assert_not_found(r, &missing, what),
            "value too long" => assert_invalid_value(r, what),
            _ => assert_invalid_key(r, what),
        }
        assert_eq!(
            cx.backend.get(&a, b"old").await.unwrap(),
            Some(b("kept")),
            "batch with {what} wrote"
        );
        assert_eq!(
            cx.backend.get(&a, b"new").await.unwrap(),
            None,
            "batch with {what} wrote"
        );
        assert_eq!(
            cx.backend.get(&bp, b"new").await.unwrap(),
            None,
            "batch with {what} wrote"
        );
        // Invalid op first, too.
        let mut ops = valid();
        ops.insert(0, Operation::put(&missing, "k", "v"));
        assert_not_found(cx.backend.batch(ops).await, &missing, "invalid op first");
        assert_eq!(cx.backend.get(&a, b"new").await.unwrap(), None);
    }
    assert!(
        !cx.backend.partition_exists(&missing).await.unwrap(),
        "a batch must not create partitions"
    );
    Ok(())
}

/// Contract row "batch" under `atomic_batch`: no reader sees half of a batch. A writer
/// applies 300 batches, each setting 8 keys in two partitions to the batch number; readers
/// on other tasks read the keys one by one in the batch's own order, so a batch applied
/// op by op shows up as a later key holding an OLDER number than an earlier one.
pub async fn readers_never_see_half_a_batch<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require_batch!(cx);
    require!(cx.caps.atomic_batch, "atomic_batch is false");
    let a = cx.partition("atom_a").await;
    let bp = cx.partition("atom_b").await;
    if !cx.caps.cross_partition_batch {
        // Checked refused; the batches below then stay in one partition.
        assert_refused_across(&*cx.backend, cx.caps, &a, &bp).await;
    }
    let bp = if cx.caps.cross_partition_batch {
        bp
    } else {
        a.clone()
    };
    let keys: Vec<(Partition, Bytes)> = (0..8u8)
        .map(|i| {
            (
                if i % 2 == 0 { a.clone() } else { bp.clone() },
                b([b'k', i]),
            )
        })
        .collect();
    let ops = |n: u32| -> Vec<Operation> {
        keys.iter()
            .map(|(p, k)| Operation::put(p, k.clone(), n.to_be_bytes().to_vec()))
            .collect()
    };
    cx.backend.batch(ops(0)).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let backend = cx.backend.clone();
        let keys = keys.clone();
        let done = done.clone();
        let a = a.clone();
        readers.push(tokio::spawn(async move {
            let mut rounds = 0u32;
            while !done.load(Ordering::Acquire) || rounds < 3 {
                let mut last = 0u32;
                for (i, (p, k)) in keys.iter().enumerate() {
                    let v = backend.get(p, k).await.unwrap().expect("key written by batch 0");
                    let n = u32::from_be_bytes(v[..].try_into().expect("4-byte value"));
                    assert!(
                        n >= last,
                        "a reader saw half a batch: key {i} holds batch {n} after an earlier key showed {last}"
                    );
                    last = n;
                }
                // A scan visits a's keys in the batches' write order too.
                let mut last = 0u32;
                for (k, v) in scan(&*backend, &a, ScanRange::all()).await {
                    let n = u32::from_be_bytes(v[..].try_into().expect("4-byte value"));
                    assert!(n >= last, "a scan saw half a batch: {k:?} holds batch {n} after {last}");
                    last = n;
                }
                rounds += 1;
                tokio::task::yield_now().await;
            }
            rounds
        }));
    }
    for n in 1..=300u32 {
        cx.backend.batch(ops(n)).await.unwrap();
        if n % 8 == 0 {
            tokio::task::yield_now().await;
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.await.expect("reader");
    }
    for (p, k) in &keys {
        assert_eq!(
            cx.backend.get(p, k).await.unwrap(),
            Some(b(300u32.to_be_bytes()))
        );
    }
    Ok(())
}
