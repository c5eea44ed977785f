//! The seeds batteries on backend-sled, a fresh temporary directory per store.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_sled::{SledBackend, SledConfig};

/// A fresh temporary directory per store.
struct SledHarness;

#[async_trait]
impl conformance::Harness for SledHarness {
    type Store = tempfile::TempDir;

    async fn create(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("create a temporary directory")
    }

    async fn open(&self, store: &tempfile::TempDir) -> Result<Arc<dyn StorageBackend>> {
        let config = SledConfig::new(store.path()).cache_capacity(16 << 20);
        Ok(Arc::new(SledBackend::open(config).await?))
    }
}

seeds_battery::battery!(SledHarness);
