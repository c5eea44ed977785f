//! Deliberately broken backends: the [`ReferenceBackend`] with one fault switched on.
//!
//! The battery is only worth something if it fails on broken backends. Each [`Mutant`]
//! is a realistic bug; `tests/mutants.rs` checks that each one fails at least one case
//! while the unbroken reference passes every case.

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};

use crate::Harness;
use crate::reference::ReferenceBackend;

/// One deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// Scans include the `end` key (`..=end` instead of `..end`).
    ScanIgnoresExclusiveEnd,
    /// CAS is a get, a yield, then a put: not atomic, so concurrent CAS loses updates.
    CasGetThenPut,
    /// Batches are applied one op at a time, each under its own lock with a yield
    /// between, and validated op by op (an invalid op leaves the earlier ones written).
    BatchOneAtATime,
    /// `ttl` is claimed but ignored: keys never expire, a zero TTL is visible.
    TtlIgnored,
    /// Deleting a missing key is an error.
    DeleteMissingErrors,
    /// Every third watch event is silently dropped (no `Lagged`).
    WatchDropsEvents,
    /// Reverse scans swap neighbouring keys: not in descending order.
    ReverseScanUnordered,
    /// Every partition's data lives in one shared map.
    PartitionsLeak,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 8] = [
        Mutant::ScanIgnoresExclusiveEnd,
        Mutant::CasGetThenPut,
        Mutant::BatchOneAtATime,
        Mutant::TtlIgnored,
        Mutant::DeleteMissingErrors,
        Mutant::WatchDropsEvents,
        Mutant::ReverseScanUnordered,
        Mutant::PartitionsLeak,
    ];

    /// A fresh, empty backend with this bug.
    pub fn backend(self) -> ReferenceBackend {
        ReferenceBackend::build(Some(self))
    }
}

/// A [`Harness`] opening a new backend with the given bug for every store.
#[derive(Clone, Copy, Debug)]
pub struct MutantHarness(pub Mutant);

#[async_trait]
impl Harness for MutantHarness {
    type Store = ();

    async fn create(&self) {}

    async fn open(&self, _store: &()) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(self.0.backend()))
    }
}
