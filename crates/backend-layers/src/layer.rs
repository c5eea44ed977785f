//! The `Layer` trait (the builder that stacks layers is in `stack.rs`).

use std::sync::Arc;

use backend_api::StorageBackend;

/// Wraps a backend into another backend that adds one concern (as tower's `Layer`).
///
/// The result forwards every `StorageBackend` method explicitly, reports the inner
/// backend's `name()` and, unless the layer's docs say otherwise, its `capabilities()`.
/// The layer value holds the configuration and any shared state (a semaphore, a cache);
/// the wrapper it returns holds an `Arc` of it and of the inner backend, so wrapping is
/// cheap and wrappers are cheap to call.
pub trait Layer {
    /// `inner` with this layer around it.
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend>;
}

impl<L: Layer + ?Sized> Layer for &L {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        (**self).layer(inner)
    }
}
