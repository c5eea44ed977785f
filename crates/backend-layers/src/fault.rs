//! Fault injection for tests: a seeded fraction of calls fail or are slowed down.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Error, StorageBackend, WatchStream};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::around::{Around, Layered, Run};
use crate::layer::Layer;
use crate::op::{BoxFut, Call, Reply, ScanItem, ScanStream};

/// Fails a chosen fraction of calls with [`Error::Unavailable`] or [`Error::Timeout`],
/// and delays a chosen fraction, drawing from a generator seeded by the caller, so a
/// failing test can be replayed (the sequence of draws is fixed; which call gets which
/// draw depends on how the test's tasks interleave).
///
/// By default a failure is injected *before* the call reaches the inner backend (nothing
/// happened), and only on idempotent operations ([`Op::is_idempotent`]), so a
/// [`RetryLayer`](crate::RetryLayer) above it hides every fault. With
/// [`ambiguous`](FaultLayer::ambiguous) the call runs and its answer is replaced by the
/// error (it happened, the caller does not know): what a lost reply looks like. Streams
/// are never failed mid-way. Applied twice, both inject.
///
/// [`Op::is_idempotent`]: crate::Op::is_idempotent
#[derive(Clone, Debug)]
pub struct FaultLayer {
    faults: Arc<Faults>,
}

#[derive(Debug)]
struct Faults {
    fail: f64,
    timeout_share: f64,
    delay: f64,
    latency: Duration,
    all_ops: bool,
    ambiguous: bool,
    rng: Mutex<StdRng>,
    seed: u64,
}

impl Clone for Faults {
    fn clone(&self) -> Self {
        Faults {
            rng: Mutex::new(StdRng::seed_from_u64(self.seed)),
            ..*self
        }
    }
}

impl FaultLayer {
    /// No faults yet, draws seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        FaultLayer {
            faults: Arc::new(Faults {
                fail: 0.0,
                timeout_share: 0.5,
                delay: 0.0,
                latency: Duration::ZERO,
                all_ops: false,
                ambiguous: false,
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
                seed,
            }),
        }
    }

    /// Fails `fraction` (0.0 to 1.0) of calls; `timeout_share` of those answer
    /// `Timeout`, the rest `Unavailable`.
    pub fn fail(mut self, fraction: f64, timeout_share: f64) -> Self {
        let f = Arc::make_mut(&mut self.faults);
        f.fail = fraction.clamp(0.0, 1.0);
        f.timeout_share = timeout_share.clamp(0.0, 1.0);
        self
    }

    /// Delays `fraction` of calls by `latency` before they reach the inner backend.
    pub fn latency(mut self, fraction: f64, latency: Duration) -> Self {
        let f = Arc::make_mut(&mut self.faults);
        f.delay = fraction.clamp(0.0, 1.0);
        f.latency = latency;
        self
    }

    /// Injects failures into every operation, CAS and conditional batches included.
    pub fn all_operations(mut self) -> Self {
        Arc::make_mut(&mut self.faults).all_ops = true;
        self
    }

    /// Runs a failed call anyway and then answers the error (a lost reply).
    pub fn ambiguous(mut self) -> Self {
        Arc::make_mut(&mut self.faults).ambiguous = true;
        self
    }
}

impl Layer for FaultLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(Layered::new(inner, self.faults.clone()))
    }
}

impl Faults {
    /// Draws this call's fate: (delay it, the error to answer).
    fn draw(&self, call: &Call<'_>) -> (bool, Option<Error>) {
        let mut rng = self.rng.lock();
        let delay = self.delay > 0.0 && rng.random_bool(self.delay);
        let eligible = self.all_ops || call.op.is_idempotent();
        let error = (eligible && self.fail > 0.0 && rng.random_bool(self.fail)).then(|| {
            if rng.random_bool(self.timeout_share) {
                Error::Timeout {
                    operation: call.op.name(),
                    after: Duration::ZERO,
                }
            } else {
                Error::unavailable(format!("fault injected into {}", call.op.name()), None)
            }
        });
        (delay, error)
    }

    async fn inject<'a, T, R: Run<'a, T>>(&self, call: Call<'a>, run: R) -> backend_api::Result<T> {
        let (delay, error) = self.draw(&call);
        if delay {
            tokio::time::sleep(self.latency).await;
        }
        match error {
            None => run.run().await,
            Some(error) if self.ambiguous => {
                let _ = run.run().await;
                Err(error)
            }
            Some(error) => Err(error),
        }
    }
}

impl Around for Faults {
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, call: Call<'a>, run: R) -> BoxFut<'a, T> {
        Box::pin(self.inject(call, run))
    }

    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>> {
        Box::pin(self.inject(call, run))
    }

    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream> {
        Box::pin(self.inject(call, run))
    }
}
