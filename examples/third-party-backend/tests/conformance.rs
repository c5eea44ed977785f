//! The whole conformance battery against `SortedVecBackend`: one `#[test]` per case.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use third_party_backend::{SortedVecBackend, SortedVecConfig};

/// Opens a new, empty backend for every store; not persistent, so never reopened.
struct SortedVecHarness;

#[async_trait]
impl conformance::Harness for SortedVecHarness {
    type Store = ();

    async fn create(&self) {}

    async fn open(&self, _store: &()) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(SortedVecBackend::new(SortedVecConfig::new())))
    }
}

conformance::battery!(SortedVecHarness);

// Wraps this backend with each of the battery's deliberate faults and checks that a
// case catches every one that applies (faults in capabilities it lacks are reported
// as not applicable).
conformance::mutant_check!(SortedVecHarness);
