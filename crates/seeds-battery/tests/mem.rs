//! The seeds batteries on backend-mem.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_mem::{MemBackend, MemConfig};

/// A new `MemBackend` per store.
struct MemHarness;

#[async_trait]
impl conformance::Harness for MemHarness {
    type Store = ();

    async fn create(&self) {}

    async fn open(&self, _store: &()) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(MemBackend::open(MemConfig::default()).await?))
    }
}

seeds_battery::battery!(MemHarness);
