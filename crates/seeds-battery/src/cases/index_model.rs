//! The index layer against an in-memory model: random puts (whole entry sets and
//! Riak specs), deletes, gets and paged queries over 4 colliding binary keys, 2 fields
//! and a few terms, checked step by step; a failure is shrunk to a minimal sequence.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use conformance::{Harness, Outcome};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use seeds::index::{IndexEntry, IndexSpec, IndexedStore, Query, Term};
use tokio::runtime::Handle;

use super::index::{all_pages, open};

/// `SEEDS_MODEL_CASES` sets the number of sequences (default 48).
pub const CASES_ENV: &str = "SEEDS_MODEL_CASES";
const DEFAULT_CASES: u32 = 48;

const KEYS: [&[u8]; 4] = [b"a", b"a\0", b"\xff", b"b"];
const INTS: [i64; 5] = [i64::MIN, -1, 0, 1, 300];
const BINS: [&[u8]; 5] = [b"", b"\0", b"a", b"a\0", b"\xff"];

#[derive(Clone, Debug)]
enum Step {
    Put(Bytes, Bytes, Vec<IndexEntry>),
    PutSpecs(Bytes, Bytes, Vec<IndexSpec>),
    Delete(Bytes),
    Get(Bytes),
    Query(Q),
}

type Model = BTreeMap<Bytes, (Bytes, BTreeSet<IndexEntry>)>;

fn key() -> impl Strategy<Value = Bytes> {
    proptest::sample::select(KEYS.to_vec()).prop_map(Bytes::from_static)
}

fn term_int() -> impl Strategy<Value = Term> {
    proptest::sample::select(INTS.to_vec()).prop_map(Term::Int)
}

fn term_bin() -> impl Strategy<Value = Term> {
    proptest::sample::select(BINS.to_vec()).prop_map(Term::bin)
}

fn entry() -> impl Strategy<Value = IndexEntry> {
    prop_oneof![
        term_int().prop_map(|t| IndexEntry::new("i_int", t)),
        term_bin().prop_map(|t| IndexEntry::new("b_bin", t)),
    ]
}

/// A query in a form the model can evaluate.
#[derive(Clone, Debug)]
enum Sel {
    Eq(&'static str, Term),
    Range(&'static str, Term, Term),
    Keys(Bytes, Bytes),
    All,
}

#[derive(Clone, Debug)]
struct Q {
    sel: Sel,
    terms: bool,
    max: Option<usize>,
}

impl Q {
    fn query(&self) -> Query {
        let q = match &self.sel {
            Sel::Eq(f, t) => Query::eq(*f, t.clone()),
            Sel::Range(f, a, b) => Query::range(*f, a.clone(), b.clone()),
            Sel::Keys(a, b) => Query::keys(a.clone(), b.clone()),
            Sel::All => Query::all_keys(),
        };
        let q = if self.terms { q.return_terms() } else { q };
        match self.max {
            Some(n) => q.max_results(n),
            None => q,
        }
    }

    /// What the query must answer on `model`, in order: `(term, key)` sorted by term
    /// then key (`Term`'s order is the encoding's: integers first, numerically, then
    /// bytes).
    fn expected(&self, model: &Model) -> Vec<(Option<Term>, Bytes)> {
        let mut out: Vec<(Term, Bytes)> = Vec::new();
        for (key, (_, entries)) in model {
            match &self.sel {
                Sel::Keys(lo, hi) if key >= lo && key <= hi => {
                    out.push((Term::Bin(key.clone()), key.clone()))
                }
                Sel::All => out.push((Term::Bin(key.clone()), key.clone())),
                Sel::Keys(..) => {}
                Sel::Eq(f, t) => out.extend(
                    entries
                        .iter()
                        .filter(|e| e.field == *f && e.term == *t)
                        .map(|e| (e.term.clone(), key.clone())),
                ),
                Sel::Range(f, a, b) => out.extend(
                    entries
                        .iter()
                        .filter(|e| e.field == *f && &e.term >= a && &e.term <= b)
                        .map(|e| (e.term.clone(), key.clone())),
                ),
            }
        }
        out.sort();
        out.into_iter()
            .map(|(t, k)| (self.terms.then_some(t), k))
            .collect()
    }
}

fn query() -> impl Strategy<Value = Q> {
    let sel = prop_oneof![
        term_int().prop_map(|t| Sel::Eq("i_int", t)),
        term_bin().prop_map(|t| Sel::Eq("b_bin", t)),
        (term_int(), term_int()).prop_map(|(a, b)| Sel::Range("i_int", a, b)),
        (term_bin(), term_bin()).prop_map(|(a, b)| Sel::Range("b_bin", a, b)),
        (key(), key()).prop_map(|(a, b)| Sel::Keys(a, b)),
        Just(Sel::All),
    ];
    (sel, any::<bool>(), proptest::option::of(1usize..4)).prop_map(|(sel, terms, max)| Q {
        sel,
        terms,
        max,
    })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let value =
        || proptest::sample::select(vec![&b""[..], b"v1", b"v2"]).prop_map(Bytes::from_static);
    let spec = prop_oneof![
        entry().prop_map(IndexSpec::Add),
        entry().prop_map(IndexSpec::Remove)
    ];
    let step = prop_oneof![
        4 => (key(), value(), proptest::collection::vec(entry(), 0..4))
            .prop_map(|(k, v, e)| Step::Put(k, v, e)),
        3 => (key(), value(), proptest::collection::vec(spec, 0..4))
            .prop_map(|(k, v, s)| Step::PutSpecs(k, v, s)),
        2 => key().prop_map(Step::Delete),
        1 => key().prop_map(Step::Get),
        4 => query().prop_map(Step::Query),
    ];
    proptest::collection::vec(step, 1..30)
}

async fn step(
    store: &IndexedStore,
    model: &mut Model,
    i: usize,
    s: &Step,
) -> Result<(), TestCaseError> {
    let fail = |what: String| Err(TestCaseError::fail(format!("step {i} ({s:?}): {what}")));
    match s {
        Step::Put(k, v, entries) => {
            store
                .put_entries(k, v, entries)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            model.insert(k.clone(), (v.clone(), entries.iter().cloned().collect()));
        }
        Step::PutSpecs(k, v, specs) => {
            store
                .put_specs(k, v, specs)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut set = model.get(k).map(|(_, e)| e.clone()).unwrap_or_default();
            for spec in specs {
                match spec {
                    IndexSpec::Add(e) => set.insert(e.clone()),
                    IndexSpec::Remove(e) => set.remove(e),
                };
            }
            model.insert(k.clone(), (v.clone(), set));
        }
        Step::Delete(k) => {
            store
                .delete(k)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            model.remove(k);
        }
        Step::Get(k) => {
            let got = store
                .get_with_entries(k)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .map(|(v, e)| (v, e.into_iter().collect::<BTreeSet<_>>()));
            if got.as_ref() != model.get(k) {
                return fail(format!("got {got:?}, model {:?}", model.get(k)));
            }
        }
        Step::Query(q) => {
            let got: Vec<(Option<Term>, Bytes)> = all_pages(store, &q.query())
                .await
                .into_iter()
                .map(|h| (h.term, h.key))
                .collect();
            let want = q.expected(model);
            if got != want {
                return fail(format!("got {got:?}, model {want:?}"));
            }
        }
    }
    Ok(())
}

fn run_blocking<H: Harness>(h: H, rt: Handle) -> Outcome {
    let (_cx, first) = rt.block_on(open(h, "idx_model_0"))?;
    let backend = first.backend().clone();
    let cases = std::env::var(CASES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let n = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&steps(), |seq| {
        let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        rt.block_on(async {
            // A fresh bucket per sequence, so each starts from nothing.
            let bucket = format!("idx_model_{n}");
            let store = IndexedStore::open(backend.clone(), &bucket)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut model = Model::new();
            for (i, s) in seq.iter().enumerate() {
                step(&store, &mut model, i, s).await?;
            }
            Ok(())
        })
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, seq)) => panic!(
            "index model test failed: {reason}\nminimal failing sequence ({} steps, from an empty bucket):\n{seq:#?}",
            seq.len()
        ),
        Err(TestError::Abort(reason)) => panic!("index model test aborted: {reason}"),
    }
}

/// Random sequences of puts (entry sets and specs), deletes, gets and paged queries
/// (equality, ranges, `$key`, `$bucket`, with and without terms, pages of 1 to 3)
/// against a model. `SEEDS_MODEL_CASES` sets the number of sequences.
pub async fn index_model_based<H: Harness>(h: H) -> Outcome {
    let rt = Handle::current();
    match tokio::task::spawn_blocking(move || run_blocking(h, rt)).await {
        Ok(outcome) => outcome,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
