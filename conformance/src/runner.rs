//! Runs one case on its own runtime, with a deadline, and reports skips.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crate::{Harness, Outcome, Skip};

/// No case may take longer than this: a hang is a failure, not a stuck CI job.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `case` against `harness` on a fresh multi-threaded runtime.
///
/// A skip is written straight to the process's stderr (past the test harness's output
/// capture), so every skipped case shows its name and reason in the test log.
pub fn run<H, F, Fut>(name: &'static str, harness: H, case: F)
where
    H: Harness,
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let outcome = runtime.block_on(async { tokio::time::timeout(CASE_TIMEOUT, case(harness)).await });
    match outcome {
        Err(_) => panic!("conformance case {name} did not finish within {CASE_TIMEOUT:?}"),
        Ok(Ok(())) => {}
        Ok(Err(Skip(reason))) => report_skip(name, &reason),
    }
}

fn report_skip(name: &str, reason: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "conformance: SKIP {name}: {reason}");
}
