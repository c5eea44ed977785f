//! The whole conformance battery against `FileBackend`, twice: one `#[test]` per case,
//! each on a fresh temporary directory; reopen cases close the handle and open the
//! directory again.
//!
//! - top level: the default file size, `SyncPolicy::Never` (fast);
//! - `durable_small_files::`: `SyncPolicy::Always` (group commit on every write) and
//!   4 KiB data files with an eager merge trigger, so rotation, sealing with hint
//!   files, group commit and automatic merges all happen inside the cases.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use conformance::Facts;

/// A fresh temporary directory per store.
struct FileHarness {
    /// `SyncPolicy::Always`, tiny files, eager merges.
    durable_small_files: bool,
}

#[async_trait]
impl conformance::Harness for FileHarness {
    type Store = tempfile::TempDir;

    async fn create(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("create a temporary directory")
    }

    async fn open(&self, store: &tempfile::TempDir) -> Result<Arc<dyn StorageBackend>> {
        let config = if self.durable_small_files {
            FileConfig::new(store.path())
                .sync_policy(SyncPolicy::Always)
                .max_file_size(4096)
                .merge_trigger(Some(0.3))
                .merge_min_bytes(16 << 10)
        } else {
            FileConfig::new(store.path()).sync_policy(SyncPolicy::Never)
        };
        Ok(Arc::new(FileBackend::open(config).await?))
    }

    /// The directory is locked by the open handle: a second open answers `Locked`.
    fn facts(&self) -> Facts {
        Facts::new().with_exclusive_open(true)
    }
}

conformance::battery!(FileHarness {
    durable_small_files: false
});

conformance::battery!(durable_small_files: FileHarness {
    durable_small_files: true
});

// Every fault of `conformance::mutants`, wrapped around this backend, is caught.
conformance::mutant_check!(FileHarness {
    durable_small_files: false
});
