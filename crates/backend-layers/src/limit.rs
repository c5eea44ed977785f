//! Concurrency limit: at most `n` calls in the inner backend at once.

use std::sync::Arc;

use backend_api::{Error, StorageBackend, WatchStream};
use tokio::sync::Semaphore;

use crate::around::{Around, Layered, Run};
use crate::layer::Layer;
use crate::op::{BoxFut, Call, Reply, ScanItem, ScanStream};

/// Lets at most `n` calls run in the inner backend at once; the others wait, in FIFO
/// order, for a permit. A permit is held for one call only: a scan or watch holds it
/// while it opens, never while its stream is read, so open streams cannot starve
/// other callers (or deadlock a caller that writes while it scans).
///
/// The semaphore is the layer's state: every backend wrapped by the same
/// `ConcurrencyLimitLayer` value (or its clones) shares the `n` permits; make one layer
/// per backend for separate limits. Applied twice, both limits apply. Inside a
/// [`RetryLayer`](crate::RetryLayer) (the builder's order) each attempt takes its own
/// permit and none is held during the backoff sleep.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimitLayer {
    permits: Arc<Permits>,
}

#[derive(Debug)]
struct Permits {
    semaphore: Semaphore,
}

impl ConcurrencyLimitLayer {
    /// At most `n` calls at once (0 is taken as 1).
    pub fn new(n: usize) -> Self {
        ConcurrencyLimitLayer {
            permits: Arc::new(Permits {
                semaphore: Semaphore::new(n.max(1)),
            }),
        }
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits.semaphore.available_permits()
    }
}

impl Layer for ConcurrencyLimitLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(Layered::new(inner, self.permits.clone()))
    }
}

impl Permits {
    async fn with_permit<'a, T, R: Run<'a, T>>(&self, run: R) -> backend_api::Result<T> {
        // The semaphore is never closed, so acquire cannot fail; answer as a closed
        // store rather than panic if that ever changes.
        let _permit = self.semaphore.acquire().await.map_err(|_| Error::Closed)?;
        run.run().await
    }
}

impl Around for Permits {
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, _call: Call<'a>, run: R) -> BoxFut<'a, T> {
        Box::pin(self.with_permit(run))
    }

    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        _call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>> {
        Box::pin(self.with_permit(run))
    }

    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        _call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream> {
        Box::pin(self.with_permit(run))
    }
}
