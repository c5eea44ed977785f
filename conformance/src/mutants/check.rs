//! The mutant check: run the cases that should catch each fault around a backend.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Result, StorageBackend, async_trait};

use super::{Fault, Faulty};
use crate::runner::{Verdict, run_caught};
use crate::{Facts, Harness, all_cases};

/// A mutant may hang a case (a watcher waiting for a dropped event); cases bound their
/// own waits, this is the outer guard.
const TIMEOUT: Duration = Duration::from_secs(120);

/// A [`Harness`] whose every handle is the inner harness's handle wrapped in
/// [`Faulty`] with one fault. Stores and facts are the inner harness's.
#[derive(Clone, Copy, Debug)]
pub struct FaultyHarness<H> {
    /// The harness of the backend under test.
    pub inner: H,
    /// The fault every handle carries.
    pub fault: Fault,
}

#[async_trait]
impl<H: Harness> Harness for FaultyHarness<H> {
    type Store = H::Store;

    async fn create(&self) -> Self::Store {
        self.inner.create().await
    }

    async fn open(&self, store: &Self::Store) -> Result<Arc<dyn StorageBackend>> {
        let inner = self.inner.open(store).await?;
        Ok(Arc::new(Faulty::wrap(inner, self.fault)))
    }

    fn facts(&self) -> Facts {
        self.inner.facts()
    }
}

/// How one fault fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutantVerdict {
    /// These cases failed on it and pass on the unwrapped backend (the first one only
    /// when the check stops early).
    Caught(Vec<&'static str>),
    /// Every case that could catch it was skipped: the backend lacks what the fault
    /// breaks (e.g. a watch fault on a backend without `watch`).
    NotApplicable,
    /// Its cases ran and passed: the battery misses this bug on this backend.
    Escaped,
    /// Its only failing cases fail on the unwrapped backend too, so they prove nothing
    /// about the fault: fix the backend first.
    Inconclusive(Vec<&'static str>),
}

/// One fault's result, with each case's verdict.
#[derive(Clone, Debug)]
pub struct MutantReport {
    /// The fault.
    pub fault: Fault,
    /// The summary.
    pub verdict: MutantVerdict,
    /// Every case that ran, with its verdict, in the order run.
    pub cases: Vec<(&'static str, Verdict)>,
}

impl std::fmt::Display for MutantReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.verdict {
            MutantVerdict::Caught(by) => {
                write!(f, "{:?} -> caught by {}", self.fault, by.join(", "))
            }
            MutantVerdict::NotApplicable => {
                write!(
                    f,
                    "{:?} -> not applicable (its cases were skipped)",
                    self.fault
                )
            }
            MutantVerdict::Escaped => write!(f, "{:?} -> ESCAPED", self.fault),
            MutantVerdict::Inconclusive(cases) => write!(
                f,
                "{:?} -> inconclusive ({} also fail without the fault)",
                self.fault,
                cases.join(", ")
            ),
        }
    }
}

/// Runs the cases of [`Fault::cases`] against `make()` wrapped with `fault`, in order,
/// stopping at the first that catches it when `stop_at_first`. A case that fails with
/// the fault is run again on the unwrapped backend: it catches the fault only if it
/// passes there.
pub fn run_mutant<H: Harness>(
    make: &(impl Fn() -> H + Sync),
    fault: Fault,
    stop_at_first: bool,
) -> MutantReport {
    let wanted = fault.cases();
    let mut cases: Vec<_> = all_cases::<FaultyHarness<H>>()
        .into_iter()
        .filter(|(name, _)| wanted.contains(name))
        .collect();
    cases.sort_by_key(|(name, _)| wanted.iter().position(|w| w == name));
    assert_eq!(
        cases.len(),
        wanted.len(),
        "Fault::cases of {fault:?} names a case the battery lacks"
    );
    let plain: Vec<_> = all_cases::<H>();
    let mut ran = Vec::new();
    let (mut caught, mut inconclusive) = (Vec::new(), Vec::new());
    for (name, case) in cases {
        let harness = FaultyHarness {
            inner: make(),
            fault,
        };
        let verdict = run_caught(harness, case, TIMEOUT);
        let failed = matches!(verdict, Verdict::Failed(_));
        ran.push((name, verdict));
        if !failed {
            continue;
        }
        let (_, baseline) = plain
            .iter()
            .find(|(n, _)| *n == name)
            .expect("the same case list");
        if matches!(run_caught(make(), *baseline, TIMEOUT), Verdict::Failed(_)) {
            inconclusive.push(name);
            continue;
        }
        caught.push(name);
        if stop_at_first {
            break;
        }
    }
    let verdict = if !caught.is_empty() {
        MutantVerdict::Caught(caught)
    } else if !inconclusive.is_empty() {
        MutantVerdict::Inconclusive(inconclusive)
    } else if ran.iter().all(|(_, v)| matches!(v, Verdict::Skipped(_))) {
        MutantVerdict::NotApplicable
    } else {
        MutantVerdict::Escaped
    };
    MutantReport {
        fault,
        verdict,
        cases: ran,
    }
}

/// Every fault of [`Fault::ALL`] around `make()`, each stopping at its first catching
/// case. A few faults run at once.
pub fn check_mutants<H: Harness>(make: impl Fn() -> H + Sync) -> Vec<MutantReport> {
    let next = std::sync::Mutex::new(Fault::ALL.into_iter());
    let out = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some(fault) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        break;
                    };
                    let report = run_mutant(&make, fault, true);
                    out.lock().unwrap_or_else(|e| e.into_inner()).push(report);
                }
            });
        }
    });
    let mut out = out.into_inner().unwrap_or_else(|e| e.into_inner());
    out.sort_by_key(|r| Fault::ALL.iter().position(|f| *f == r.fault));
    out
}

/// Runs [`check_mutants`], prints the table to stderr, and panics if any fault
/// escaped or was inconclusive. What [`mutant_check!`](crate::mutant_check) expands to.
pub fn assert_mutants_caught<H: Harness>(make: impl Fn() -> H + Sync) {
    // Caught faults panic inside their cases by design; keep their backtraces quiet.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let reports = check_mutants(make);
    std::panic::set_hook(hook);
    let mut stderr = std::io::stderr().lock();
    let mut escaped = Vec::new();
    for r in &reports {
        use std::io::Write;
        let _ = writeln!(stderr, "conformance mutant: {r}");
        if matches!(
            r.verdict,
            MutantVerdict::Escaped | MutantVerdict::Inconclusive(_)
        ) {
            escaped.push(r.fault);
        }
    }
    assert!(
        escaped.is_empty(),
        "faults no case caught on this backend (or only cases that fail without them): {escaped:?}"
    );
}
