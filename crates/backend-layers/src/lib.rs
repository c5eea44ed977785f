//! Layers around any [`StorageBackend`]: metrics, tracing, timeouts, retries, a
//! concurrency limit, a read cache, a namespace and fault injection.
//!
//! A [`Layer`] wraps an `Arc<dyn StorageBackend>` into another one; [`LayerStack`]
//! stacks them in a fixed order (tracing > metrics > cache > retry > limit > timeout >
//! namespace > fault > backend; see its docs for why). Every wrapper forwards every
//! trait method explicitly and reports the inner backend's name and capabilities.
//!
//! ```
//! # async fn demo() -> backend_api::Result<()> {
//! use std::sync::Arc;
//! use backend_api::StorageBackend;
//! use backend_layers::{Layer, LayerStack, MetricsLayer};
//!
//! let store: Arc<dyn StorageBackend> =
//!     Arc::new(backend_mem::MemBackend::open(Default::default()).await?);
//! let store = MetricsLayer::new().layer(store); // one layer
//! let store = LayerStack::recommended().wrap(store); // or the whole default stack
//! # let _ = store; Ok(()) }
//! ```
//!
//! Metrics for any backend (the README's example, kept identical by `tests/readme.rs`):
//!
//! ```rust
//! use std::sync::Arc;
//! use backend_api::StorageBackend;
//! use backend_layers::{Layer, MetricsLayer};
//!
//! fn with_metrics(store: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
//!     MetricsLayer::new().layer(store)
//! }
//! ```
//!
//! | layer | feature | extra dependency |
//! |---|---|---|
//! | [`TimeoutLayer`], [`RetryLayer`], [`ConcurrencyLimitLayer`], [`NamespaceLayer`] | always | none (tokio) |
//! | `MetricsLayer` | `metrics` | `metrics`, `quanta` |
//! | `TracingLayer` | `tracing` | `tracing` |
//! | `CacheLayer` | `cache` | `quick_cache` |
//! | `FaultLayer` | `fault` | `rand` |
//!
//! All features are on by default; `default-features = false, features = [...]` keeps
//! only the layers you use. One crate with features rather than a crate per layer: one
//! version to keep in step, one builder that knows every layer and their order, the same
//! dependency economy.
//!
//! Write your own layer either as an [`Around`] (acts around calls: timing, permits,
//! retries; wrap it in [`Layered`]) or as a full `StorageBackend` over an inner
//! `Arc<dyn StorageBackend>` when it changes arguments or answers (cache, namespace).
//! `docs/layers.md` walks through both.
#![deny(unsafe_code)]

mod around;
mod layer;
mod limit;
mod namespace;
mod op;
mod retry;
mod stack;
mod timeout;

#[cfg(feature = "cache")]
mod cache;
#[cfg(feature = "fault")]
mod fault;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "tracing")]
mod trace;

pub use around::{Around, Attempt, Layered, Run};
pub use layer::Layer;
pub use limit::ConcurrencyLimitLayer;
pub use namespace::{MAX_NAMESPACE_LEN, NamespaceLayer};
pub use op::{BoxFut, Call, Op, Reply, ScanItem, ScanStream, error_kind, is_transient};
pub use retry::RetryLayer;
pub use stack::LayerStack;
pub use timeout::TimeoutLayer;

#[cfg(feature = "cache")]
pub use cache::CacheLayer;
#[cfg(feature = "fault")]
pub use fault::FaultLayer;
#[cfg(feature = "metrics")]
pub use metrics::MetricsLayer;
#[cfg(feature = "tracing")]
pub use trace::TracingLayer;
