//! The whole conformance battery against `SledBackend`, one store per case in a temp dir.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_sled::{SledBackend, SledConfig};
use tempfile::TempDir;

/// Every store is a fresh temporary directory; `open` opens a sled handle on it.
struct SledHarness;

#[async_trait]
impl conformance::Harness for SledHarness {
    type Store = TempDir;

    async fn create(&self) -> TempDir {
        tempfile::tempdir().expect("create a temp dir")
    }

    async fn open(&self, store: &TempDir) -> Result<Arc<dyn StorageBackend>> {
        let config = SledConfig::new(store.path()).cache_capacity(16 << 20);
        Ok(Arc::new(SledBackend::open(config).await?))
    }

    /// One handle at a time holds the store's file lock; the engine's own
    /// tree never shows as a partition.
    fn facts(&self) -> conformance::Facts {
        conformance::Facts::new()
            .with_exclusive_open(true)
            .with_reserved_partition_names(&["__sled__default"])
    }
}

conformance::battery!(SledHarness);

// Every fault of `conformance::mutants`, wrapped around this backend, is caught.
conformance::mutant_check!(SledHarness);
