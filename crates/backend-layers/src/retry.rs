//! Retry: transient failures of calls that are safe to repeat, with backoff and jitter.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backend_api::{StorageBackend, WatchStream};

use crate::around::{Around, Layered, Run};
use crate::layer::Layer;
use crate::op::{BoxFut, Call, Reply, ScanItem, ScanStream, is_transient};

/// Runs a call again when it fails with a transient error ([`Error::Unavailable`] or
/// [`Error::Timeout`]) and the operation is safe to repeat ([`Op::is_idempotent`]), up
/// to `max_attempts` attempts in all, sleeping a random time in `[0, backoff]` between
/// attempts ("full jitter"), where `backoff` starts at `initial_backoff` and doubles up
/// to `max_backoff`. Any other error, and the last attempt's error, is returned as is.
///
/// **Never retried:** `compare_and_swap`, `conditional_batch` and `drop_partition`. After
/// a `Timeout` or `Unavailable` their effect is unknown (the write may have been applied
/// and only the answer lost), and a blind second attempt would see its own write and
/// answer `Mismatch`/`CheckFailed`/`PartitionNotFound`, the opposite of what happened. The
/// caller gets the first attempt's `Timeout` or `Unavailable` unchanged and must re-read
/// the keys to learn whether it took effect (e.g. a CAS that wrote a unique value can
/// check for that value).
///
/// A retried write can be applied twice: the state is the same, but watchers may see its
/// events twice, and it can overwrite a write another handle made in between (as with
/// any retried put). Scans and watches retry the call that opens them, never mid-stream.
///
/// Put a [`TimeoutLayer`](crate::TimeoutLayer) inside this one (the builder does), so a
/// hung attempt ends as a `Timeout` and is retried; outside, the deadline would cover all
/// attempts. Applied twice, attempts multiply (3 x 3 = up to 9): avoid.
///
/// [`Error::Unavailable`]: backend_api::Error::Unavailable
/// [`Error::Timeout`]: backend_api::Error::Timeout
/// [`Op::is_idempotent`]: crate::Op::is_idempotent
#[derive(Clone, Debug)]
pub struct RetryLayer {
    policy: Arc<Policy>,
}

#[derive(Debug)]
struct Policy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    jitter: RandomState,
    draws: AtomicU64,
}

impl Clone for Policy {
    fn clone(&self) -> Self {
        Policy {
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            jitter: RandomState::new(),
            draws: AtomicU64::new(0),
        }
    }
}

impl Default for RetryLayer {
    /// 4 attempts, backoff from 10 ms up to 1 s.
    fn default() -> Self {
        RetryLayer {
            policy: Arc::new(Policy {
                max_attempts: 4,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_secs(1),
                jitter: RandomState::new(),
                draws: AtomicU64::new(0),
            }),
        }
    }
}

impl RetryLayer {
    /// The default policy: 4 attempts, backoff from 10 ms up to 1 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `n` attempts in all (1: never retry; 0 is taken as 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        Arc::make_mut(&mut self.policy).max_attempts = n.max(1);
        self
    }

    /// The first backoff and the cap it doubles up to.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        let policy = Arc::make_mut(&mut self.policy);
        policy.initial_backoff = initial;
        policy.max_backoff = max.max(initial);
        self
    }
}

impl Policy {
    /// The sleep after failed attempt number `attempt` (1-based): uniform in
    /// `[0, min(max, initial * 2^(attempt-1))]`.
    fn sleep_after(&self, attempt: u32) -> Duration {
        let doubled = self
            .initial_backoff
            .saturating_mul(1u32 << (attempt - 1).min(30));
        let cap = doubled.min(self.max_backoff);
        let draw = self
            .jitter
            .hash_one(self.draws.fetch_add(1, Ordering::Relaxed));
        let fraction = (draw >> 11) as f64 / (1u64 << 53) as f64;
        cap.mul_f64(fraction)
    }

    async fn attempts<'a, T, R: Run<'a, T>>(
        &self,
        call: Call<'a>,
        run: R,
    ) -> backend_api::Result<T> {
        if !call.op.is_idempotent() {
            return run.run().await;
        }
        let mut attempt = 1;
        loop {
            if attempt >= self.max_attempts {
                return run.run().await;
            }
            match run.run_again().await {
                Err(error) if is_transient(&error) => {
                    tokio::time::sleep(self.sleep_after(attempt)).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }
}

impl Layer for RetryLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(Layered::new(inner, self.policy.clone()))
    }
}

impl Around for Policy {
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, call: Call<'a>, run: R) -> BoxFut<'a, T> {
        Box::pin(self.attempts(call, run))
    }

    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>> {
        Box::pin(self.attempts(call, run))
    }

    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream> {
        Box::pin(self.attempts(call, run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_below_a_doubling_cap() {
        let layer = RetryLayer::new().backoff(Duration::from_millis(10), Duration::from_millis(35));
        let p = &layer.policy;
        for attempt in 1..40 {
            let cap = Duration::from_millis(match attempt {
                1 => 10,
                2 => 20,
                _ => 35,
            });
            assert!(p.sleep_after(attempt) <= cap);
        }
        let draws: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| p.sleep_after(3)).collect();
        assert!(draws.len() > 10, "jitter draws repeat: {draws:?}");
    }
}
