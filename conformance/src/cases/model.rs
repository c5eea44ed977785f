//! The model-based state-machine test: random sequences of operations against a
//! `BTreeMap` per partition, shrunk to a minimal failing sequence.

use std::cell::RefCell;
use std::collections::BTreeMap;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, Error, KeyRange, Operation, Partition,
    ScanRange, StorageBackend,
};
use futures_util::StreamExt;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use tokio::runtime::Handle;

use crate::{Ctx, Harness, Outcome};

/// Environment variable setting the number of generated sequences (default 64).
pub const CASES_ENV: &str = "CONFORMANCE_MODEL_CASES";
const DEFAULT_CASES: u32 = 64;

/// The tiny key space: four keys that collide, sort around each other, and include
/// 0x00 and 0xFF bytes.
const KEYS: [&[u8]; 4] = [b"\x00", b"a", b"a\xff", b"\xff"];
const VALUES: [&[u8]; 3] = [b"", b"1", b"2"];

/// One step of a generated sequence. Partitions are 0 and 1 (0 exists at the start).
#[derive(Clone, Debug)]
pub enum Step {
    /// `put(p, k, v)`.
    Put(usize, Bytes, Bytes),
    /// `delete(p, k)`.
    Delete(usize, Bytes),
    /// `get(p, k)`.
    Get(usize, Bytes),
    /// `batch` of puts, deletes and (under `range_delete`) range deletes.
    Batch(Vec<BatchOp>),
    /// `conditional_batch(checks, ops)`: checks are `(p, k, expected)`.
    CondBatch(Vec<(usize, Bytes, Option<Bytes>)>, Vec<BatchOp>),
    /// `compare_and_swap(p, k, expected, new)`.
    Cas(usize, Bytes, Option<Bytes>, Option<Bytes>),
    /// `scan(p, range)`.
    Scan(usize, ScanRange),
    /// `create_partition(p)`.
    Create(usize),
    /// `drop_partition(p)`.
    Drop(usize),
    /// `len(p)` and `is_empty(p)`.
    Len(usize),
    /// Close and reopen the store (persistent backends).
    Reopen,
}

/// One operation of a generated batch.
#[derive(Clone, Debug)]
pub enum BatchOp {
    /// `Operation::put(p, k, v)`.
    Put(usize, Bytes, Bytes),
    /// `Operation::delete(p, k)`.
    Delete(usize, Bytes),
    /// `Operation::delete_range(p, [start, end))`, each bound optional.
    Range(usize, Option<Bytes>, Option<Bytes>),
}

impl BatchOp {
    fn partition(&self) -> usize {
        match self {
            BatchOp::Put(p, ..) | BatchOp::Delete(p, _) | BatchOp::Range(p, ..) => *p,
        }
    }

    fn range(start: &Option<Bytes>, end: &Option<Bytes>) -> KeyRange {
        let mut r = KeyRange::all();
        r.start = start.clone();
        r.end = end.clone();
        r
    }

    fn operation(&self, names: &[Partition; 2]) -> Operation {
        match self {
            BatchOp::Put(p, k, v) => Operation::put(&names[*p], k.clone(), v.clone()),
            BatchOp::Delete(p, k) => Operation::delete(&names[*p], k.clone()),
            BatchOp::Range(p, s, e) => Operation::delete_range(&names[*p], Self::range(s, e)),
        }
    }

    /// Applies the op to the model (its partition exists).
    fn apply(&self, model: &mut Model) {
        let m = model[self.partition()].as_mut().expect("checked");
        match self {
            BatchOp::Put(_, k, v) => {
                m.insert(k.clone(), v.clone());
            }
            BatchOp::Delete(_, k) => {
                m.remove(k);
            }
            BatchOp::Range(_, s, e) => {
                let r = Self::range(s, e);
                m.retain(|k, _| !r.contains(k));
            }
        }
    }
}

type Model = [Option<BTreeMap<Bytes, Bytes>>; 2];

fn steps(caps: backend_api::Capabilities, batch: bool) -> BoxedStrategy<Vec<Step>> {
    let key = || proptest::sample::select(KEYS.map(Bytes::from_static).to_vec());
    let value = || proptest::sample::select(VALUES.map(Bytes::from_static).to_vec());
    let part = || prop_oneof![4 => Just(0usize), 1 => Just(1usize)];
    let mut arms: Vec<(u32, BoxedStrategy<Step>)> = vec![
        (
            6,
            (part(), key(), value())
                .prop_map(|(p, k, v)| Step::Put(p, k, v))
                .boxed(),
        ),
        (
            3,
            (part(), key())
                .prop_map(|(p, k)| Step::Delete(p, k))
                .boxed(),
        ),
        (
            3,
            (part(), key()).prop_map(|(p, k)| Step::Get(p, k)).boxed(),
        ),
        (1, part().prop_map(Step::Create).boxed()),
        (1, part().prop_map(Step::Drop).boxed()),
        (1, part().prop_map(Step::Len).boxed()),
    ];
    let bound = || proptest::option::of(key());
    let mut op_arms: Vec<(u32, BoxedStrategy<BatchOp>)> = vec![
        (
            3,
            (part(), key(), value())
                .prop_map(|(p, k, v)| BatchOp::Put(p, k, v))
                .boxed(),
        ),
        (
            2,
            (part(), key())
                .prop_map(|(p, k)| BatchOp::Delete(p, k))
                .boxed(),
        ),
    ];
    if caps.range_delete {
        let arm = (part(), bound(), bound()).prop_map(|(p, s, e)| BatchOp::Range(p, s, e));
        op_arms.push((1, arm.boxed()));
    }
    let ops = move || proptest::collection::vec(Union::new_weighted(op_arms.clone()), 0..5);
    if batch {
        arms.push((2, ops().prop_map(Step::Batch).boxed()));
    }
    if caps.conditional_batch {
        let check = (part(), key(), proptest::option::of(value()));
        let arm = (proptest::collection::vec(check, 0..3), ops())
            .prop_map(|(checks, ops)| Step::CondBatch(checks, ops));
        arms.push((3, arm.boxed()));
    }
    if caps.compare_and_swap {
        let arm = (
            part(),
            key(),
            proptest::option::of(value()),
            proptest::option::of(value()),
        )
            .prop_map(|(p, k, e, n)| Step::Cas(p, k, e, n));
        arms.push((3, arm.boxed()));
    }
    let ordered = caps.ordered_scan;
    let reverse = caps.reverse_scan;
    let range = (
        bound(),
        bound(),
        bound(),
        any::<bool>(),
        proptest::option::of(0usize..4),
    )
        .prop_map(move |(start, end, prefix, rev, limit)| {
            let mut r = ScanRange::all();
            r.start = start;
            r.end = end;
            r.prefix = prefix;
            r.reverse = rev && reverse;
            // Without order a limit picks an arbitrary subset: not checkable.
            r.limit = limit.filter(|_| ordered);
            r
        });
    arms.push((
        3,
        (part(), range).prop_map(|(p, r)| Step::Scan(p, r)).boxed(),
    ));
    if caps.persistent {
        arms.push((1, Just(Step::Reopen).boxed()));
    }
    proptest::collection::vec(Union::new_weighted(arms), 1..40).boxed()
}

fn fail(i: usize, step: &Step, msg: String) -> TestCaseError {
    TestCaseError::fail(format!("step {i} {step:?}: {msg}"))
}

/// Without `cross_partition_batch`, a batch naming both partitions must answer
/// `Unsupported` (before any other error) and change nothing: true when it did.
fn refused_across<T: std::fmt::Debug>(
    caps: Capabilities,
    mut named: impl Iterator<Item = usize>,
    r: &backend_api::Result<T>,
    i: usize,
    s: &Step,
) -> Result<bool, TestCaseError> {
    let first = named.next();
    if caps.cross_partition_batch || named.all(|p| Some(p) == first) {
        return Ok(false);
    }
    if matches!(r, Err(Error::Unsupported { .. })) {
        Ok(true)
    } else {
        Err(fail(
            i,
            s,
            format!(
                "a batch across partitions without cross_partition_batch must be Unsupported, got {r:?}"
            ),
        ))
    }
}

fn is_not_found<T>(r: &backend_api::Result<T>) -> bool {
    matches!(r, Err(Error::PartitionNotFound(_)))
}

async fn try_scan(
    be: &dyn StorageBackend,
    p: &Partition,
    r: ScanRange,
) -> backend_api::Result<Vec<(Bytes, Bytes)>> {
    let mut s = be.scan(p, r).await?;
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.push(item?);
    }
    Ok(out)
}

fn expected_scan(map: &BTreeMap<Bytes, Bytes>, r: &ScanRange) -> Vec<(Bytes, Bytes)> {
    let mut v: Vec<_> = map
        .iter()
        .filter(|(k, _)| r.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if r.reverse {
        v.reverse();
    }
    v.truncate(r.limit.unwrap_or(usize::MAX));
    v
}

/// Runs one step against the backend and the model; an error names the mismatch.
async fn step<H: Harness>(
    cx: &mut Ctx<H>,
    names: &[Partition; 2],
    model: &mut Model,
    i: usize,
    s: &Step,
) -> Result<(), TestCaseError> {
    let be = cx.backend.clone();
    let caps = cx.caps;
    let check_nf = |exists: bool, r: &dyn std::fmt::Debug, nf: bool| -> Result<(), TestCaseError> {
        if !exists && !nf {
            return Err(fail(
                i,
                s,
                format!("missing partition must be PartitionNotFound, got {r:?}"),
            ));
        }
        Ok(())
    };
    match s {
        Step::Put(p, k, v) => {
            let r = be.put(&names[*p], k, v).await;
            check_nf(model[*p].is_some(), &r, is_not_found(&r))?;
            if let Some(m) = &mut model[*p] {
                r.map_err(|e| fail(i, s, e.to_string()))?;
                m.insert(k.clone(), v.clone());
            }
        }
        Step::Delete(p, k) => {
            let r = be.delete(&names[*p], k).await;
            check_nf(model[*p].is_some(), &r, is_not_found(&r))?;
            if let Some(m) = &mut model[*p] {
                r.map_err(|e| fail(i, s, e.to_string()))?;
                m.remove(k);
            }
        }
        Step::Get(p, k) => {
            let r = be.get(&names[*p], k).await;
            check_nf(model[*p].is_some(), &r, is_not_found(&r))?;
            if let Some(m) = &model[*p] {
                let got = r.map_err(|e| fail(i, s, e.to_string()))?;
                if got.as_ref() != m.get(k) {
                    return Err(fail(i, s, format!("got {got:?}, model has {:?}", m.get(k))));
                }
            }
        }
        Step::Batch(ops) => {
            let batch = ops.iter().map(|op| op.operation(names)).collect();
            let r = be.batch(batch).await;
            if refused_across(caps, ops.iter().map(BatchOp::partition), &r, i, s)? {
                return Ok(());
            }
            let all_exist = ops.iter().all(|op| model[op.partition()].is_some());
            check_nf(all_exist, &r, is_not_found(&r))?;
            if all_exist {
                r.map_err(|e| fail(i, s, e.to_string()))?;
                ops.iter().for_each(|op| op.apply(model));
            }
        }
        Step::CondBatch(checks, ops) => {
            let batch = ops.iter().map(|op| op.operation(names)).collect();
            let conds = checks
                .iter()
                .map(|(p, k, e)| Check::new(&names[*p], k.clone(), e.clone()))
                .collect();
            let r = be.conditional_batch(conds, batch).await;
            let named = checks
                .iter()
                .map(|c| c.0)
                .chain(ops.iter().map(BatchOp::partition));
            if refused_across(caps, named, &r, i, s)? {
                return Ok(());
            }
            let all_exist = checks.iter().all(|(p, _, _)| model[*p].is_some())
                && ops.iter().all(|op| model[op.partition()].is_some());
            check_nf(all_exist, &r, is_not_found(&r))?;
            if all_exist {
                let got = r.map_err(|e| fail(i, s, e.to_string()))?;
                let failed = checks.iter().enumerate().find_map(|(index, (p, k, e))| {
                    let current = model[*p].as_ref().expect("checked").get(k).cloned();
                    (current != *e).then_some(BatchOutcome::CheckFailed { index, current })
                });
                let want = match failed {
                    Some(f) => f,
                    None => {
                        ops.iter().for_each(|op| op.apply(model));
                        BatchOutcome::Applied
                    }
                };
                if got != want {
                    return Err(fail(i, s, format!("got {got:?}, model says {want:?}")));
                }
            }
        }
        Step::Cas(p, k, expected, new) => {
            let r = be
                .compare_and_swap(&names[*p], k, expected.as_deref(), new.as_deref())
                .await;
            check_nf(model[*p].is_some(), &r, is_not_found(&r))?;
            if let Some(m) = &mut model[*p] {
                let got = r.map_err(|e| fail(i, s, e.to_string()))?;
                let current = m.get(k).cloned();
                let want = if current == *expected {
                    match new {
                        Some(v) => m.insert(k.clone(), v.clone()),
                        None => m.remove(k),
                    };
                    CasOutcome::Swapped
                } else {
                    CasOutcome::Mismatch { current }
                };
                if got != want {
                    return Err(fail(i, s, format!("got {got:?}, model says {want:?}")));
                }
            }
        }
        Step::Scan(p, r) => {
            let got = try_scan(&*be, &names[*p], r.clone()).await;
            check_nf(model[*p].is_some(), &got, is_not_found(&got))?;
            if let Some(m) = &model[*p] {
                let mut got = got.map_err(|e| fail(i, s, e.to_string()))?;
                let mut want = expected_scan(m, r);
                if !caps.ordered_scan {
                    got.sort();
                    want.sort();
                }
                if got != want {
                    return Err(fail(i, s, format!("scan got {got:?}, model has {want:?}")));
                }
            }
        }
        Step::Create(p) => {
            be.create_partition(&names[*p])
                .await
                .map_err(|e| fail(i, s, e.to_string()))?;
            model[*p].get_or_insert_with(BTreeMap::new);
        }
        Step::Drop(p) => {
            let r = be.drop_partition(&names[*p]).await;
            check_nf(model[*p].is_some(), &r, is_not_found(&r))?;
            if model[*p].take().is_some() {
                r.map_err(|e| fail(i, s, e.to_string()))?;
            }
        }
        Step::Len(p) => {
            let len = be.len(&names[*p]).await;
            let empty = be.is_empty(&names[*p]).await;
            check_nf(
                model[*p].is_some(),
                &len,
                is_not_found(&len) && is_not_found(&empty),
            )?;
            if let Some(m) = &model[*p] {
                let len = len.map_err(|e| fail(i, s, e.to_string()))?;
                let empty = empty.map_err(|e| fail(i, s, e.to_string()))?;
                if empty != m.is_empty() || (caps.exact_len && len != m.len() as u64) {
                    return Err(fail(
                        i,
                        s,
                        format!("len {len}, is_empty {empty}; model holds {}", m.len()),
                    ));
                }
            }
        }
        Step::Reopen => cx.reopen().await,
    }
    Ok(())
}

/// After a sequence: both partitions exist exactly as in the model and hold exactly
/// its pairs.
async fn check_final<H: Harness>(
    cx: &Ctx<H>,
    names: &[Partition; 2],
    model: &Model,
) -> Result<(), TestCaseError> {
    let listed = cx
        .backend
        .list_partitions()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (p, m) in names.iter().zip(model) {
        if listed.contains(p) != m.is_some() {
            return Err(TestCaseError::fail(format!(
                "at the end, {p} listed: {}, model: {}",
                listed.contains(p),
                m.is_some()
            )));
        }
        if let Some(m) = m {
            let got = try_scan(&*cx.backend, p, ScanRange::all())
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut got = got;
            if !cx.caps.ordered_scan {
                got.sort();
            }
            let want: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            if got != want {
                return Err(TestCaseError::fail(format!(
                    "at the end, {p} holds {got:?}, model {want:?}"
                )));
            }
        }
    }
    Ok(())
}

fn run_blocking<H: Harness>(h: H, rt: Handle) -> Outcome {
    let cx = rt.block_on(Ctx::new(h));
    let batch = rt.block_on(super::util::batch_offered(
        &*cx.backend,
        cx.caps.atomic_batch,
    ));
    let strategy = steps(cx.caps, batch);
    let cases = std::env::var(CASES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_time: 60_000,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let names = [
        Partition::new("model_0").unwrap(),
        Partition::new("model_1").unwrap(),
    ];
    let cx = RefCell::new(cx);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |seq| {
        let mut cx = cx.borrow_mut();
        rt.block_on(async {
            cx.fresh_store().await;
            cx.backend
                .create_partition(&names[0])
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut model: Model = [Some(BTreeMap::new()), None];
            let mut outcome = Ok(());
            for (i, s) in seq.iter().enumerate() {
                outcome = step(&mut cx, &names, &mut model, i, s).await;
                if outcome.is_err() {
                    break;
                }
            }
            if outcome.is_ok() {
                outcome = check_final(&cx, &names, &model).await;
            }
            outcome
        })
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, seq)) => panic!(
            "model-based test failed: {reason}\nminimal failing sequence ({} steps, from an empty store; model_0 exists at the start, model_1 does not):\n{seq:#?}",
            seq.len()
        ),
        Err(TestError::Abort(reason)) => panic!("model-based test aborted: {reason}"),
    }
}

/// Every contract row about data at once: random sequences of put, delete, get, batch
/// (with range deletes under `range_delete`), conditional batch and CAS (when offered), scans with random bounds, prefix, reverse (when offered) and
/// limit, create/drop partition, len/is_empty and reopen (when persistent), over 2
/// partitions and 4 colliding binary keys, checked step by step against a `BTreeMap`
/// model. A failure is shrunk and printed as a minimal sequence.
/// `CONFORMANCE_MODEL_CASES` sets the number of sequences (default 64).
pub async fn model_based<H: Harness>(h: H) -> Outcome {
    let rt = Handle::current();
    match tokio::task::spawn_blocking(move || run_blocking(h, rt)).await {
        Ok(outcome) => outcome,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
