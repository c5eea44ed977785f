//! The conformance battery: every promise of the `StorageBackend` contract as a test.
//!
//! # Using it from a backend crate
//!
//! 1. Add `conformance` as a dev-dependency (it brings its own tokio and proptest; your
//!    crate needs neither).
//! 2. Implement [`Harness`] for a small type in `tests/conformance.rs`: `create` makes a
//!    fresh, empty, isolated store (a temp dir, a unique namespace on a server) and `open`
//!    opens a handle on it. For a persistent backend `open` must reopen the SAME store,
//!    since the persistence cases close a handle and open it again; a backend declaring
//!    `cross_process_watch` must allow a second handle while the first is open.
//! 3. Call the macro once:
//!
//! ```ignore
//! // tests/conformance.rs
//! use std::sync::Arc;
//! use backend_api::{Result, StorageBackend, async_trait};
//!
//! struct MyHarness;
//!
//! #[async_trait]
//! impl conformance::Harness for MyHarness {
//!     type Store = tempfile::TempDir;
//!     async fn create(&self) -> Self::Store { tempfile::tempdir().unwrap() }
//!     async fn open(&self, dir: &Self::Store) -> Result<Arc<dyn StorageBackend>> {
//!         Ok(Arc::new(my_backend::open(my_backend::Config::new(dir.path())).await?))
//!     }
//! }
//!
//! conformance::battery!(MyHarness);
//! ```
//!
//! The macro expands to one `#[test]` per case (named after the case), using only
//! `$crate::` paths. The harness expression is evaluated once per test. Each case runs on
//! its own multi-threaded tokio runtime with a deadline ([`runner::CASE_TIMEOUT`]).
//!
//! # Capabilities and skips
//!
//! Cases a backend's [`Capabilities`] rule out are skipped, each skip written to stderr as
//! `conformance: SKIP <case>: <reason>` so it shows in the test log. Before skipping, a
//! case checks that the operation whose capability is false answers
//! `Error::Unsupported` (a backend must never emulate an optional operation).
//!
//! # What is checked
//!
//! The cases live in [`cases`], one module per area of the contract (`docs/contract.md`);
//! each case's docs name the contract row it checks. [`cases::model::model_based`] is a
//! proptest state-machine test against a `BTreeMap` model; set `CONFORMANCE_MODEL_CASES`
//! to change its number of cases (default 64). Failures print the shrunk minimal
//! sequence of operations.
//!
//! # Facts, and a second configuration
//!
//! What a backend does differently without it being a capability is declared by
//! [`Harness::facts`] ([`Facts`]: a second open answers `Locked`; names the engine
//! reserves). `battery!(name: harness)` runs the battery again in a module `name`, for
//! a second configuration of the same backend.
//!
//! # Mutants
//!
//! The battery itself is tested: [`reference::ReferenceBackend`] passes every case, and
//! [`mutants::Faulty`] wraps any backend with one deliberate fault that some case must
//! catch. [`mutant_check!`] runs that check around your own backend.
//!
//! [`Capabilities`]: backend_api::Capabilities
#![deny(unsafe_code)]

pub mod cases;
mod harness;
pub mod mutants;
pub mod reference;
pub mod runner;

pub use harness::{Ctx, Facts, Harness, Outcome, Skip};

/// The futures crate the battery uses, for anything beyond [`StreamExt`].
pub use futures_util;
/// `StreamExt` (`next`, `collect`, `map`, ...) for the streams of scans and watches, so
/// case writers and harnesses need no futures dependency of their own.
pub use futures_util::StreamExt;

/// A case as a plain function pointer: takes the harness, returns its boxed future.
pub type CaseFn<H> = fn(H) -> futures_util::future::BoxFuture<'static, Outcome>;

/// Every case, as `("module::case", fn)`, in battery order. Built from the same list as
/// [`battery!`], so the two never diverge.
pub fn all_cases<H: Harness>() -> Vec<(&'static str, CaseFn<H>)> {
    crate::__case_list!(list)
}

/// Expands to one `#[test]` per conformance case, run against `$harness` (an
/// expression evaluated once per test, of a type implementing [`Harness`]).
///
/// `battery!(name: harness)` puts the tests in a module `name` (which sees the
/// caller's items through `use super::*`), so one file can run the battery on several
/// configurations of one backend:
///
/// ```ignore
/// conformance::battery!(FileHarness::default());
/// conformance::battery!(always_sync: FileHarness::always());
/// conformance::battery!(tiny_files: FileHarness::tiny_files());
/// ```
#[macro_export]
macro_rules! battery {
    ($name:ident : $harness:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__case_list! { tests $harness }
        }
    };
    ($harness:expr $(,)?) => {
        $crate::__case_list! { tests $harness }
    };
}

/// Expands to one `#[test]`, `every_mutant_is_caught`, that wraps the backend of
/// `$harness` (an expression evaluated once per case run) with each
/// [`mutants::Fault`] in turn and runs the cases that should catch it, stopping at the
/// first that does; it fails if a fault escapes. See [`mutants`].
#[macro_export]
macro_rules! mutant_check {
    ($harness:expr $(,)?) => {
        #[test]
        fn every_mutant_is_caught() {
            $crate::mutants::assert_mutants_caught(|| $harness);
        }
    };
}

/// The single list of cases. `tests <harness>` expands to the `#[test]` functions,
/// `list` to the `Vec` returned by [`all_cases`].
#[doc(hidden)]
#[macro_export]
macro_rules! __case_list {
    ($($mode:tt)*) => {
        $crate::__expand_cases! { [$($mode)*]
            partitions::create_partition_is_idempotent,
            partitions::bad_partition_names_are_rejected,
            partitions::long_and_system_partition_names_work,
            partitions::partition_names_are_case_sensitive,
            partitions::partitions_are_isolated,
            partitions::drop_partition_removes_data,
            partitions::drop_missing_partition_is_not_found,
            partitions::list_partitions_in_name_order,
            partitions::data_ops_on_missing_partition_are_not_found,
            keys_values::put_get_overwrite,
            keys_values::binary_keys_round_trip,
            keys_values::key_length_limits,
            keys_values::value_length_limits,
            keys_values::empty_value_is_allowed,
            keys_values::get_many_keeps_order_and_missing,
            keys_values::exists_follows_puts_and_deletes,
            keys_values::delete_missing_key_is_ok,
            keys_values::concurrent_puts_are_all_kept,
            scan::scan_all_in_byte_order,
            scan::scan_start_inclusive_end_exclusive,
            scan::scan_open_bounds,
            scan::scan_empty_and_inverted_ranges_yield_nothing,
            scan::scan_prefix_with_binary_bytes,
            scan::scan_prefix_combined_with_bounds,
            scan::scan_limit,
            scan::scan_reverse_with_limit,
            scan::scan_reverse_bounds_and_prefix,
            scan::scan_keys_only,
            scan::scan_dropped_early_then_backend_works,
            scan::scan_thousands_of_keys_streams_in_order,
            scan::scan_during_writes_sees_untouched_keys_once,
            scan::snapshot_scan_ignores_later_writes,
            batch::batch_applies_in_order_across_partitions,
            batch::empty_batch_is_ok,
            batch::batch_with_one_invalid_op_writes_nothing,
            batch::readers_never_see_half_a_batch,
            cas::cas_create_only,
            cas::cas_swap_and_mismatch_returns_current,
            cas::cas_delete,
            cas::cas_empty_value_is_not_absent,
            cas::cas_validates_key_and_value,
            cas::cas_concurrent_increments_are_exact,
            watch::watch_sees_puts_and_deletes_in_order,
            watch::watch_filters_by_prefix_and_partition,
            watch::watch_starts_after_the_call,
            watch::watch_reports_batch_writes,
            watch::watch_lags_a_slow_watcher_and_writers_never_block,
            ttl::ttl_expires,
            ttl::ttl_zero_is_invisible_at_once,
            ttl::plain_put_clears_ttl,
            ttl::ttl_in_batch,
            lifecycle::capabilities_are_stable_and_name_is_set,
            lifecycle::flush_and_status_answer,
            lifecycle::len_and_is_empty,
            lifecycle::partition_size_counts_live_bytes,
            lifecycle::compact_keeps_contents,
            lifecycle::calls_after_close_are_closed,
            persistence::reopen_keeps_writes,
            persistence::reopen_keeps_partitions_and_drops,
            persistence::flush_then_reopen,
            persistence::reopen_keeps_ttl,
            cross_handle::second_handle_sees_writes,
            cross_handle::second_handle_watch_sees_writes,
            conditional::conditional_batch_applies_when_checks_hold,
            conditional::failed_check_writes_nothing,
            conditional::checks_on_absent_and_expired_keys,
            conditional::checks_across_partitions,
            conditional::conditional_batch_validation_order,
            conditional::concurrent_transfers_keep_their_sum,
            conditional::readers_never_see_half_a_conditional_batch,
            conditional::watch_reports_conditional_writes,
            range_delete::range_delete_bounds,
            range_delete::range_delete_prefix,
            range_delete::range_delete_empty_or_inverted_removes_nothing,
            range_delete::range_delete_in_batch_order,
            range_delete::range_delete_is_atomic_with_the_batch,
            range_delete::range_delete_of_20k_keys,
            range_delete::range_delete_event_once,
            range_delete::range_delete_invalid_bounds,
            edges::error_order,
            edges::reads_validate_keys,
            edges::nothing_to_do_is_still_checked,
            edges::deletes_of_absent_keys_publish_nothing,
            edges::recreated_partition_is_empty,
            ttl_paths::ttl_expires_within_600ms,
            ttl_paths::expiry_seen_by_every_read_path,
            ttl_paths::ttl_survives_compact,
            ttl_paths::every_write_path_clears_ttl,
            ttl_paths::hostile_ttl_values,
            ttl_entries::scan_entries_report_deadlines,
            ttl_entries::scan_entries_deadline_survives_reopen,
            watch_paths::every_write_path_is_reported,
            watch_paths::lagged_counts_cover_every_event,
            watch_paths::watch_events_per_key_in_commit_order,
            streams::watch_ends_on_drop_partition,
            streams::watch_ends_on_close,
            streams::scan_ends_on_drop_partition,
            streams::scan_ends_on_close,
            handles::second_open_is_locked,
            handles::second_handle_sees_partitions,
            handles::lists_only_user_partitions,
            model::model_based,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __expand_cases {
    ([tests $harness:expr] $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::runner::run(stringify!($case), $harness, $crate::cases::$module::$case);
            }
        )*
    };
    ([list] $($module:ident :: $case:ident),* $(,)?) => {
        ::std::vec![
            $((
                ::std::concat!(::std::stringify!($module), "::", ::std::stringify!($case)),
                (|h| ::std::boxed::Box::pin($crate::cases::$module::$case(h))) as $crate::CaseFn<_>,
            )),*
        ]
    };
}
