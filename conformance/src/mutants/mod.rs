//! Deliberately broken backends, to prove the battery catches real bugs.
//!
//! [`Faulty`] wraps ANY backend (`Arc<dyn StorageBackend>`) with one [`Fault`], made
//! from outside by altering the calls it forwards and the streams it hands back. A
//! battery is only worth something if it fails on broken backends: wrap your own
//! backend with every fault and check that some case catches each one.
//!
//! ```ignore
//! // tests/mutants.rs of a backend crate: one #[test] that wraps the real backend with
//! // each fault in turn and runs only the cases that should catch it, stopping at the
//! // first failure.
//! conformance::mutant_check!(MyHarness);
//! ```
//!
//! or, to see the whole table, [`check_mutants`] and print each [`MutantReport`].
//! A fault whose every relevant case was skipped (the backend lacks the capability
//! the fault breaks) is reported as not applicable, not as escaped.

mod check;
mod faulty;

pub use check::{
    FaultyHarness, MutantReport, MutantVerdict, assert_mutants_caught, check_mutants, run_mutant,
};
pub use faulty::Faulty;

/// One deliberate bug. [`Fault::cases`] names the cases expected to catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// Scans include the `end` key (`..=end` instead of `..end`).
    ScanIgnoresExclusiveEnd,
    /// CAS is a get, a yield, then a put: not atomic, so concurrent CAS loses updates.
    CasGetThenPut,
    /// Batches are applied one op at a time with a yield between, each validated on
    /// its own (an invalid op leaves the earlier ones written).
    BatchOneAtATime,
    /// TTLs are dropped: keys never expire, a zero TTL is visible.
    TtlIgnored,
    /// Deleting a missing key is an error.
    DeleteMissingErrors,
    /// Every third watch event is silently dropped (no `Lagged`).
    WatchDropsEvents,
    /// Reverse scans swap neighbouring keys: not in descending order.
    ReverseScanUnordered,
    /// Every partition's data lives in one shared partition.
    PartitionsLeak,
    /// A conditional batch writes first and evaluates its checks afterwards.
    CheckAfterWrites,
    /// A conditional batch is a read of its checks followed by a plain batch.
    CheckThenBatch,
    /// A range delete leaves the last key of its range.
    RangeDeleteKeepsLast,
    /// Range deletes are never reported to watchers.
    RangeDeleteUnreported,
    /// A delete of an absent key publishes a `Delete` event.
    DeleteAbsentPublishes,
    /// `get` and `exists` with an invalid key answer `Ok(None)` / `Ok(false)`.
    InvalidKeyReadsNone,
    /// A watch stream does not end when its partition is dropped or the handle closed.
    WatchOutlivesDrop,
    /// Keys expire 1.5 s later than their TTL says.
    TtlExpiresLate,
    /// A batch put without a TTL keeps the TTL an earlier `put_with` gave the key.
    BatchPutKeepsTtl,
    /// An empty batch, conditional batch or key list answers Ok without checking the
    /// handle or the partition.
    EmptyCallsUnchecked,
    /// A batch checks its partitions before its keys (wrong error order).
    PartitionBeforeKey,
    /// `Lagged(n)` reports half of what was dropped.
    LaggedUndercounts,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 20] = [
        Fault::ScanIgnoresExclusiveEnd,
        Fault::CasGetThenPut,
        Fault::BatchOneAtATime,
        Fault::TtlIgnored,
        Fault::DeleteMissingErrors,
        Fault::WatchDropsEvents,
        Fault::ReverseScanUnordered,
        Fault::PartitionsLeak,
        Fault::CheckAfterWrites,
        Fault::CheckThenBatch,
        Fault::RangeDeleteKeepsLast,
        Fault::RangeDeleteUnreported,
        Fault::DeleteAbsentPublishes,
        Fault::InvalidKeyReadsNone,
        Fault::WatchOutlivesDrop,
        Fault::TtlExpiresLate,
        Fault::BatchPutKeepsTtl,
        Fault::EmptyCallsUnchecked,
        Fault::PartitionBeforeKey,
        Fault::LaggedUndercounts,
    ];

    /// True when a backend with `caps` offers what this fault breaks. Otherwise
    /// [`Faulty`] forwards unchanged and the fault's cases (which then check the
    /// `Unsupported` answer and skip) report it as not applicable.
    pub fn applies_to(self, caps: &backend_api::Capabilities) -> bool {
        match self {
            Fault::CasGetThenPut => caps.compare_and_swap,
            Fault::TtlIgnored | Fault::TtlExpiresLate | Fault::BatchPutKeepsTtl => caps.ttl,
            Fault::WatchDropsEvents
            | Fault::WatchOutlivesDrop
            | Fault::LaggedUndercounts
            | Fault::DeleteAbsentPublishes => caps.watch,
            Fault::RangeDeleteKeepsLast | Fault::RangeDeleteUnreported => caps.range_delete,
            Fault::CheckAfterWrites | Fault::CheckThenBatch => caps.conditional_batch,
            Fault::ReverseScanUnordered => caps.reverse_scan,
            _ => true,
        }
    }

    /// The cases (`"module::case"`, as in [`all_cases`](crate::all_cases)) that should
    /// catch this fault, cheapest and most direct first. The mutant check runs only
    /// these.
    pub fn cases(self) -> &'static [&'static str] {
        match self {
            Fault::ScanIgnoresExclusiveEnd => &[
                "scan::scan_start_inclusive_end_exclusive",
                "model::model_based",
            ],
            Fault::CasGetThenPut => &["cas::cas_concurrent_increments_are_exact"],
            Fault::BatchOneAtATime => &[
                "batch::batch_with_one_invalid_op_writes_nothing",
                "batch::readers_never_see_half_a_batch",
            ],
            Fault::TtlIgnored => &["ttl::ttl_zero_is_invisible_at_once", "ttl::ttl_expires"],
            Fault::DeleteMissingErrors => &["keys_values::delete_missing_key_is_ok"],
            Fault::WatchDropsEvents => &["watch::watch_sees_puts_and_deletes_in_order"],
            Fault::ReverseScanUnordered => &["scan::scan_reverse_with_limit"],
            Fault::PartitionsLeak => &["partitions::partitions_are_isolated"],
            Fault::CheckAfterWrites => &["conditional::failed_check_writes_nothing"],
            Fault::CheckThenBatch => &["conditional::concurrent_transfers_keep_their_sum"],
            Fault::RangeDeleteKeepsLast => &["range_delete::range_delete_bounds"],
            Fault::RangeDeleteUnreported => &["range_delete::range_delete_event_once"],
            Fault::DeleteAbsentPublishes => &["edges::deletes_of_absent_keys_publish_nothing"],
            Fault::InvalidKeyReadsNone => &["edges::reads_validate_keys"],
            Fault::WatchOutlivesDrop => &["streams::watch_ends_on_drop_partition"],
            Fault::TtlExpiresLate => &["ttl_paths::ttl_expires_within_600ms"],
            Fault::BatchPutKeepsTtl => &["ttl_paths::every_write_path_clears_ttl"],
            Fault::EmptyCallsUnchecked => &["edges::nothing_to_do_is_still_checked"],
            Fault::PartitionBeforeKey => &["edges::error_order"],
            Fault::LaggedUndercounts => &["watch_paths::lagged_counts_cover_every_event"],
        }
    }
}
