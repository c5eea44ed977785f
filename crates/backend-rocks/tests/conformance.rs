//! The whole conformance battery against `RocksBackend`, one store per case in a temp dir.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_rocks::{RocksBackend, RocksConfig};
use tempfile::TempDir;

/// Every store is a fresh temporary directory; `open` opens a RocksDB handle on it.
struct RocksHarness;

#[async_trait]
impl conformance::Harness for RocksHarness {
    type Store = TempDir;

    async fn create(&self) -> TempDir {
        tempfile::tempdir().expect("create a temp dir")
    }

    async fn open(&self, store: &TempDir) -> Result<Arc<dyn StorageBackend>> {
        let config = RocksConfig::new(store.path()).block_cache_bytes(8 << 20);
        Ok(Arc::new(RocksBackend::open(config).await?))
    }

    /// One handle at a time holds the store's file lock; the engine's own
    /// column family never shows as a partition.
    fn facts(&self) -> conformance::Facts {
        conformance::Facts::new()
            .with_exclusive_open(true)
            .with_reserved_partition_names(&["default"])
    }
}

conformance::battery!(RocksHarness);

// Every fault of `conformance::mutants`, wrapped around this backend, is caught.
conformance::mutant_check!(RocksHarness);
