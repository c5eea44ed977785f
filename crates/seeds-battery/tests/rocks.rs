//! The seeds batteries on backend-rocks (the default `rocks` feature: it compiles RocksDB).
#![cfg(feature = "rocks")]

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_rocks::{RocksBackend, RocksConfig};

/// A fresh temporary directory per store.
struct RocksHarness;

#[async_trait]
impl conformance::Harness for RocksHarness {
    type Store = tempfile::TempDir;

    async fn create(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("create a temporary directory")
    }

    async fn open(&self, store: &tempfile::TempDir) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(
            RocksBackend::open(RocksConfig::new(store.path())).await?,
        ))
    }
}

seeds_battery::battery!(RocksHarness);
