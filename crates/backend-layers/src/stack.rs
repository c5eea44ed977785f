//! The builder that stacks layers in a fixed, documented order.

use std::sync::Arc;
use std::time::Duration;

use backend_api::StorageBackend;

use crate::layer::Layer;
use crate::{ConcurrencyLimitLayer, NamespaceLayer, RetryLayer, TimeoutLayer};

/// Stacks layers around a backend in this order, outermost (what the caller reaches
/// first) to innermost:
///
/// ```text
/// tracing > metrics > cache > retry > limit > timeout > namespace > fault > backend
/// ```
///
/// - **tracing** outermost, so its span covers everything below it (cache hits, every
///   retry attempt, time queued for a permit) and other layers' events fall inside it.
/// - **metrics** next: it measures what the caller experiences, hits and retries
///   included.
/// - **cache** above the resilience layers: a hit needs no permit, no deadline and no
///   retry; a miss goes through all of them.
/// - **retry** outside **limit** and **timeout**: each attempt queues for its own permit
///   and gets its own deadline, and no permit is held while backing off. A timeout
///   outside the retry would cover all attempts together, and a retry inside a timeout
///   could never end a hung attempt.
/// - **limit** outside **timeout**: the deadline counts time spent in the backend, not
///   time queued behind other callers.
/// - **namespace** under the rest, so metrics, spans and the cache see the caller's
///   partition names.
/// - **fault** innermost: it plays the part of a flaky backend.
///
/// Each slot holds at most one layer; setting one twice replaces it. Stack a layer
/// twice, or add your own, by calling [`Layer::layer`] on the result.
#[derive(Clone, Default)]
pub struct LayerStack {
    #[cfg(feature = "tracing")]
    tracing: Option<crate::TracingLayer>,
    #[cfg(feature = "metrics")]
    metrics: Option<crate::MetricsLayer>,
    #[cfg(feature = "cache")]
    cache: Option<crate::CacheLayer>,
    retry: Option<RetryLayer>,
    limit: Option<ConcurrencyLimitLayer>,
    timeout: Option<TimeoutLayer>,
    namespace: Option<NamespaceLayer>,
    #[cfg(feature = "fault")]
    fault: Option<crate::FaultLayer>,
}

impl LayerStack {
    /// No layers: `wrap` returns the backend as it is.
    pub fn new() -> Self {
        Self::default()
    }

    /// The default stack: tracing, metrics, a 64 MiB cache (when those features are
    /// on), 4 retries, at most 256 calls at once, a 30 s deadline per call. No namespace
    /// (it needs a name) and no faults.
    pub fn recommended() -> Self {
        let stack = LayerStack::new()
            .retry(RetryLayer::new())
            .limit(ConcurrencyLimitLayer::new(256))
            .timeout(TimeoutLayer::new(Duration::from_secs(30)));
        #[cfg(feature = "tracing")]
        let stack = stack.tracing(crate::TracingLayer::new());
        #[cfg(feature = "metrics")]
        let stack = stack.metrics(crate::MetricsLayer::new());
        #[cfg(feature = "cache")]
        let stack = stack.cache(crate::CacheLayer::new(64 << 20));
        stack
    }

    /// Sets the tracing layer.
    #[cfg(feature = "tracing")]
    pub fn tracing(mut self, layer: crate::TracingLayer) -> Self {
        self.tracing = Some(layer);
        self
    }

    /// Sets the metrics layer.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, layer: crate::MetricsLayer) -> Self {
        self.metrics = Some(layer);
        self
    }

    /// Sets the read cache.
    #[cfg(feature = "cache")]
    pub fn cache(mut self, layer: crate::CacheLayer) -> Self {
        self.cache = Some(layer);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, layer: RetryLayer) -> Self {
        self.retry = Some(layer);
        self
    }

    /// Sets the concurrency limit.
    pub fn limit(mut self, layer: ConcurrencyLimitLayer) -> Self {
        self.limit = Some(layer);
        self
    }

    /// Sets the deadlines.
    pub fn timeout(mut self, layer: TimeoutLayer) -> Self {
        self.timeout = Some(layer);
        self
    }

    /// Sets the namespace.
    pub fn namespace(mut self, layer: NamespaceLayer) -> Self {
        self.namespace = Some(layer);
        self
    }

    /// Sets the fault injection.
    #[cfg(feature = "fault")]
    pub fn fault(mut self, layer: crate::FaultLayer) -> Self {
        self.fault = Some(layer);
        self
    }

    /// `backend` inside every layer set, in the documented order.
    pub fn wrap(&self, backend: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        let mut b = backend;
        #[cfg(feature = "fault")]
        if let Some(l) = &self.fault {
            b = l.layer(b);
        }
        for layer in [
            self.namespace.as_ref().map(|l| l as &dyn Layer),
            self.timeout.as_ref().map(|l| l as &dyn Layer),
            self.limit.as_ref().map(|l| l as &dyn Layer),
            self.retry.as_ref().map(|l| l as &dyn Layer),
        ]
        .into_iter()
        .flatten()
        {
            b = layer.layer(b);
        }
        #[cfg(feature = "cache")]
        if let Some(l) = &self.cache {
            b = l.layer(b);
        }
        #[cfg(feature = "metrics")]
        if let Some(l) = &self.metrics {
            b = l.layer(b);
        }
        #[cfg(feature = "tracing")]
        if let Some(l) = &self.tracing {
            b = l.layer(b);
        }
        b
    }
}

impl Layer for LayerStack {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        self.wrap(inner)
    }
}
