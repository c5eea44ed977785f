//! The operations a case runs, and their proptest strategies.

use proptest::prelude::*;

use super::model::{KEYS, PARTS};

/// A put's time to live.
#[derive(Clone, Copy, Debug)]
pub enum Ttl {
    /// None.
    None,
    /// An hour: a plain put for the test's duration.
    Hour,
    /// Zero: invisible at once, hides any older value (acts as a delete).
    Zero,
}

/// What a compare-and-swap expects.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// The key's current value (it swaps).
    Current,
    /// Absence.
    Absent,
    /// A value never written (it fails unless... never).
    Wrong,
}

/// One operation of a batch.
#[derive(Clone, Debug)]
pub enum BatchOp {
    /// Put a fresh value of `pad` filler bytes.
    Put { p: usize, k: usize, pad: usize },
    /// Delete.
    Delete { p: usize, k: usize },
    /// Delete the keys `from..from + len`.
    Range { p: usize, from: usize, len: usize },
}

/// One step of a case.
#[derive(Clone, Debug)]
pub enum Step {
    /// Put a fresh value of `pad` filler bytes.
    Put {
        p: usize,
        k: usize,
        pad: usize,
        ttl: Ttl,
    },
    /// Delete.
    Delete { p: usize, k: usize },
    /// An atomic batch.
    Batch(Vec<BatchOp>),
    /// Compare-and-swap: `delete` writes absence, else a fresh value.
    Cas {
        p: usize,
        k: usize,
        expect: Expect,
        delete: bool,
        pad: usize,
    },
    /// Create a partition.
    Create(usize),
    /// Drop a partition.
    Drop(usize),
    /// `flush()`.
    Flush,
    /// `compact(p)`: a merge of the whole store.
    Compact(usize),
    /// Close and reopen.
    Reopen,
    /// Arm a power cut this many disk calls from now.
    Cut(u64),
}

fn pad() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..64usize, 1 => 300..1500usize]
}

fn pk() -> impl Strategy<Value = (usize, usize)> {
    (0..PARTS, 0..KEYS)
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    prop_oneof![
        5 => (pk(), pad()).prop_map(|((p, k), pad)| BatchOp::Put { p, k, pad }),
        2 => pk().prop_map(|(p, k)| BatchOp::Delete { p, k }),
        1 => (pk(), 1..3usize).prop_map(|((p, from), len)| BatchOp::Range { p, from, len }),
    ]
}

/// A step; `cuts` says whether power cuts are armed inside the sequence.
pub fn step(cuts: bool) -> impl Strategy<Value = Step> {
    let ttl = prop_oneof![6 => Just(Ttl::None), 1 => Just(Ttl::Hour), 1 => Just(Ttl::Zero)];
    let expect = prop_oneof![
        3 => Just(Expect::Current),
        1 => Just(Expect::Absent),
        1 => Just(Expect::Wrong)
    ];
    prop_oneof![
        20 => (pk(), pad(), ttl).prop_map(|((p, k), pad, ttl)| Step::Put { p, k, pad, ttl }),
        6 => pk().prop_map(|(p, k)| Step::Delete { p, k }),
        6 => prop::collection::vec(batch_op(), 1..5).prop_map(Step::Batch),
        4 => (pk(), expect, any::<bool>(), pad()).prop_map(|((p, k), expect, d, pad)| {
            Step::Cas { p, k, expect, delete: d, pad }
        }),
        3 => (0..PARTS).prop_map(Step::Create),
        1 => (0..PARTS).prop_map(Step::Drop),
        2 => Just(Step::Flush),
        2 => (0..PARTS).prop_map(Step::Compact),
        1 => Just(Step::Reopen),
        if cuts { 2 } else { 0 } => (0..40u64).prop_map(Step::Cut),
    ]
}

/// A case: the disk's seed, a sync policy choice, automatic merges or not, the steps
/// (both partitions are created first).
#[derive(Clone, Debug)]
pub struct Case {
    /// Seed of the simulated disk (tears, prefixes, crash options).
    pub seed: u64,
    /// 0..=3: `Always` for 0 and 1, `Never` for 2, `EveryMs(2)` for 3.
    pub policy: u8,
    /// Automatic merges on (eager trigger).
    pub auto_merge: bool,
    /// The steps.
    pub steps: Vec<Step>,
}

/// Cases of up to `max_steps` steps.
pub fn case(max_steps: usize, cuts: bool) -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        0..4u8,
        prop::bool::weighted(0.25),
        prop::collection::vec(step(cuts), 1..max_steps),
    )
        .prop_map(|(seed, policy, auto_merge, steps)| {
            let mut all = vec![Step::Create(0), Step::Create(1)];
            all.extend(steps);
            Case {
                seed,
                policy,
                auto_merge,
                steps: all,
            }
        })
}
