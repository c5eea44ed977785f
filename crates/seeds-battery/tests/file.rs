//! The seeds batteries on backend-file, a fresh temporary directory per store.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_file::{FileBackend, FileConfig, SyncPolicy};

/// A fresh temporary directory per store.
struct FileHarness;

#[async_trait]
impl conformance::Harness for FileHarness {
    type Store = tempfile::TempDir;

    async fn create(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("create a temporary directory")
    }

    async fn open(&self, store: &tempfile::TempDir) -> Result<Arc<dyn StorageBackend>> {
        let config = FileConfig::new(store.path()).sync_policy(SyncPolicy::Never);
        Ok(Arc::new(FileBackend::open(config).await?))
    }
}

seeds_battery::battery!(FileHarness);
