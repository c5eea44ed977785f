//! Runs one case on its own runtime, with a deadline, and reports skips.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crate::{Harness, Outcome, Skip};

/// No case may take longer than this: a hang is a failure, not a stuck CI job.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(300);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

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
    let outcome =
        runtime().block_on(async { tokio::time::timeout(CASE_TIMEOUT, case(harness)).await });
    match outcome {
        Err(_) => panic!("conformance case {name} did not finish within {CASE_TIMEOUT:?}"),
        Ok(Ok(())) => {}
        Ok(Err(Skip(reason))) => report_skip(name, &reason),
    }
}

/// How one case ended, for callers that run cases programmatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every assertion held.
    Passed,
    /// The backend's capabilities rule the case out (the reason).
    Skipped(String),
    /// An assertion failed or the case panicked (the message), or it timed out.
    Failed(String),
}

/// Runs `case` like [`run`], but catches a panic or a timeout and returns it as
/// [`Verdict::Failed`] instead of failing the calling test.
pub fn run_caught<H, F, Fut>(harness: H, case: F, timeout: Duration) -> Verdict
where
    H: Harness,
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let rt = runtime();
    let fut = case(harness);
    let verdict = rt.block_on(async move {
        let task = tokio::spawn(fut);
        match tokio::time::timeout(timeout, task).await {
            Err(_) => Verdict::Failed(format!("did not finish within {timeout:?}")),
            Ok(Err(join)) => Verdict::Failed(match join.try_into_panic() {
                Ok(payload) => panic_message(&*payload),
                Err(e) => format!("task failed: {e}"),
            }),
            Ok(Ok(Ok(()))) => Verdict::Passed,
            Ok(Ok(Err(Skip(reason)))) => Verdict::Skipped(reason),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    verdict
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

fn report_skip(name: &str, reason: &str) {
    let mut stderr = std::io::stderr().lock();
    // A leading newline: libtest may be midway through a "test name ... ok" line.
    let _ = write!(stderr, "\nconformance: SKIP {name}: {reason}\n");
}
