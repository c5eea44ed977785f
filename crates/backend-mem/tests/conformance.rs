//! The whole conformance battery against `MemBackend`: one `#[test]` per case.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_mem::{MemBackend, MemConfig};

/// Every store is a new `MemBackend`; not persistent, so never reopened.
struct MemHarness;

#[async_trait]
impl conformance::Harness for MemHarness {
    type Store = ();

    async fn create(&self) {}

    async fn open(&self, _store: &()) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(MemBackend::open(MemConfig::default()).await?))
    }
}

conformance::battery!(MemHarness);

// Every fault of `conformance::mutants`, wrapped around this backend, is caught.
conformance::mutant_check!(MemHarness);
