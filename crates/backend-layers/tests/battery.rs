//! The conformance battery through the layers: the full default stack over backend-mem
//! and backend-file, each layer alone over backend-mem, and fault injection (10% of
//! idempotent calls fail) under retry over backend-mem. One module per stack, one
//! `#[test]` per case.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Result, StorageBackend, async_trait};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use backend_layers::{
    CacheLayer, ConcurrencyLimitLayer, FaultLayer, Layer, LayerStack, MetricsLayer, NamespaceLayer,
    RetryLayer, TimeoutLayer, TracingLayer,
};
use backend_mem::{MemBackend, MemConfig};

type Wrap = fn(Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend>;

/// Fresh `MemBackend`s inside `wrap`.
struct Mem(Wrap);

#[async_trait]
impl conformance::Harness for Mem {
    type Store = ();

    async fn create(&self) {}

    async fn open(&self, _store: &()) -> Result<Arc<dyn StorageBackend>> {
        Ok((self.0)(Arc::new(
            MemBackend::open(MemConfig::default()).await?,
        )))
    }
}

/// `FileBackend`s on a fresh temporary directory inside `wrap`; reopen opens the same
/// directory inside a new stack.
struct File(Wrap);

#[async_trait]
impl conformance::Harness for File {
    type Store = tempfile::TempDir;

    async fn create(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("create a temporary directory")
    }

    fn facts(&self) -> conformance::Facts {
        conformance::Facts::new().with_exclusive_open(true)
    }

    async fn open(&self, dir: &tempfile::TempDir) -> Result<Arc<dyn StorageBackend>> {
        let config = FileConfig::new(dir.path()).sync_policy(SyncPolicy::Never);
        Ok((self.0)(Arc::new(FileBackend::open(config).await?)))
    }
}

/// Every layer of the default stack, a namespace included.
fn full(inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
    LayerStack::recommended()
        .namespace(NamespaceLayer::new("app").expect("valid namespace"))
        .wrap(inner)
}

mod full_stack_mem {
    use super::*;
    conformance::battery!(Mem(full));
}

mod full_stack_file {
    use super::*;
    conformance::battery!(File(full));
}

mod metrics_mem {
    use super::*;
    conformance::battery!(Mem(|b| MetricsLayer::new().partition_label().layer(b)));
}

mod tracing_mem {
    use super::*;
    conformance::battery!(Mem(|b| TracingLayer::new().layer(b)));
}

mod timeout_mem {
    use super::*;
    conformance::battery!(Mem(|b| TimeoutLayer::new(Duration::from_secs(20)).layer(b)));
}

mod retry_mem {
    use super::*;
    conformance::battery!(Mem(|b| RetryLayer::new().layer(b)));
}

mod limit_mem {
    use super::*;
    // One permit: any permit held past its call (a stream holding one) deadlocks a case.
    conformance::battery!(Mem(|b| ConcurrencyLimitLayer::new(1).layer(b)));
}

mod cache_mem {
    use super::*;
    conformance::battery!(Mem(|b| CacheLayer::new(1 << 20).layer(b)));
}

mod namespace_mem {
    use super::*;
    conformance::battery!(Mem(|b| NamespaceLayer::new("tenant7")
        .expect("valid namespace")
        .layer(b)));
}

mod fault_latency_mem {
    use super::*;
    // Alone, the fault layer may only slow calls down: a failure would be the battery's
    // to see. 10% of calls wait 1 ms.
    conformance::battery!(Mem(|b| FaultLayer::new(7)
        .latency(0.1, Duration::from_millis(1))
        .layer(b)));
}

mod fault_retry_mem {
    use super::*;
    // 10% of idempotent calls fail before reaching the backend (half Timeout, half
    // Unavailable); retry with 12 attempts hides them (a call fails through with
    // probability 1e-12).
    conformance::battery!(Mem(|b| {
        let faulty = FaultLayer::new(11).fail(0.10, 0.5).layer(b);
        RetryLayer::new()
            .max_attempts(12)
            .backoff(Duration::from_micros(100), Duration::from_millis(5))
            .layer(faulty)
    }));
}
