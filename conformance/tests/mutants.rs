//! The battery is proven, not assumed: every case passes on the reference backend, and
//! every fault of `conformance::mutants::Fault`, wrapped around the reference, is caught
//! by at least one of its cases. Prints the table: fault -> the cases that catch it.

use std::sync::Mutex;
use std::time::Duration;

use conformance::mutants::{Fault, MutantVerdict, run_mutant};
use conformance::reference::ReferenceHarness;
use conformance::runner::{Verdict, run_caught};
use conformance::{CaseFn, all_cases};

const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn reference_passes_and_every_mutant_is_caught() {
    // Failures are expected here; their messages are collected from the panic payloads
    // and printed below, so silence the default hook's backtraces.
    std::panic::set_hook(Box::new(|_| {}));
    let cases: Vec<(&'static str, CaseFn<ReferenceHarness>)> = all_cases();
    let total = cases.len();
    let results = Mutex::new(Vec::new());
    let next = Mutex::new(cases.into_iter());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some((name, case)) = next.lock().unwrap().next() {
                    let verdict = run_caught(ReferenceHarness, case, TIMEOUT);
                    results.lock().unwrap().push((name, verdict));
                }
            });
        }
    });
    let reference = results.into_inner().unwrap();
    let failed: Vec<_> = reference
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Failed(_)))
        .collect();
    assert!(
        failed.is_empty(),
        "the reference backend fails: {failed:#?}"
    );
    let skipped: Vec<_> = reference
        .iter()
        .filter_map(|(n, v)| match v {
            Verdict::Skipped(why) => Some((n, why)),
            _ => None,
        })
        .collect();
    eprintln!(
        "reference: {} of {total} cases passed, {} skipped",
        total - skipped.len(),
        skipped.len()
    );
    for (name, why) in skipped {
        eprintln!("  skipped {name}: {why}");
    }

    // Every case listed for a fault runs (no early stop), so the table is complete.
    let reports = Mutex::new(Vec::new());
    let next = Mutex::new(Fault::ALL.into_iter());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(fault) = next.lock().unwrap().next() {
                    let report = run_mutant(&|| ReferenceHarness, fault, false);
                    reports.lock().unwrap().push(report);
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap();
    reports.sort_by_key(|r| Fault::ALL.iter().position(|f| *f == r.fault));
    eprintln!("mutant table (fault -> cases that catch it):");
    let mut escaped = Vec::new();
    for r in &reports {
        eprintln!("  {r}");
        for (name, v) in &r.cases {
            if let Verdict::Failed(msg) = v {
                let first = msg.lines().next().unwrap_or("");
                eprintln!(
                    "      {name}: {}",
                    first.chars().take(140).collect::<String>()
                );
            }
        }
        if !matches!(r.verdict, MutantVerdict::Caught(_)) {
            escaped.push(r.fault);
        }
    }
    assert!(escaped.is_empty(), "faults no case caught: {escaped:?}");
}
