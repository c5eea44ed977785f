//! The battery is proven, not assumed: every case passes on the reference backend, and
//! every deliberately broken backend fails at least one case.

use std::sync::Mutex;
use std::time::Duration;

use conformance::mutants::{Mutant, MutantHarness};
use conformance::reference::ReferenceHarness;
use conformance::runner::{Verdict, run_caught};
use conformance::{CaseFn, Harness, all_cases};

/// A mutant may hang a case (a watcher waiting for a dropped event); cases bound their
/// own waits, this is the outer guard.
const TIMEOUT: Duration = Duration::from_secs(120);

fn run_all<H: Harness + Copy>(harness: H) -> Vec<(&'static str, Verdict)> {
    let cases: Vec<(&'static str, CaseFn<H>)> = all_cases();
    let results = Mutex::new(Vec::new());
    let next = Mutex::new(cases.into_iter());
    // A few cases at once: most of the time is TTL waits and scheduling, not CPU.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let Some((name, case)) = next.lock().unwrap().next() else {
                        break;
                    };
                    let verdict = run_caught(harness, case, TIMEOUT);
                    results.lock().unwrap().push((name, verdict));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(name, _)| *name);
    results
}

#[test]
fn reference_passes_and_every_mutant_is_caught() {
    // Failures are expected by the hundred here; their messages are collected from the
    // panic payloads and printed below, so silence the default hook's backtraces.
    std::panic::set_hook(Box::new(|_| {}));
    let total = all_cases::<ReferenceHarness>().len();
    let reference = run_all(ReferenceHarness);
    let failed: Vec<_> = reference
        .iter()
        .filter(|(_, v)| !matches!(v, Verdict::Passed | Verdict::Skipped(_)))
        .collect();
    assert!(
        failed.is_empty(),
        "the reference backend fails: {failed:#?}"
    );
    let ran = reference
        .iter()
        .filter(|(_, v)| *v == Verdict::Passed)
        .count();
    eprintln!(
        "reference: {ran} of {total} cases passed, {} skipped",
        total - ran
    );
    for (name, v) in &reference {
        if let Verdict::Skipped(why) = v {
            eprintln!("  skipped {name}: {why}");
        }
    }

    let mut escaped = Vec::new();
    for mutant in Mutant::ALL {
        let results = run_all(MutantHarness(mutant));
        assert_eq!(results.len(), total);
        let caught: Vec<_> = results
            .iter()
            .filter(|(_, v)| matches!(v, Verdict::Failed(_)))
            .collect();
        eprintln!("{mutant:?}: caught by {} case(s)", caught.len());
        for (name, v) in &caught {
            if let Verdict::Failed(msg) = v {
                let first = msg.lines().next().unwrap_or("");
                eprintln!("  {name}: {}", first.chars().take(160).collect::<String>());
            }
        }
        if caught.is_empty() {
            escaped.push(mutant);
        }
    }
    assert!(escaped.is_empty(), "mutants no case caught: {escaped:?}");
}
