//! Test batteries for the `seeds` layers: one macro per layer, one `#[test]` per case,
//! against any backend's [`conformance::Harness`].
//!
//! ```ignore
//! // tests/seeds.rs of a backend crate (dev-dependencies: seeds-battery, conformance)
//! struct MyHarness; // impl conformance::Harness for MyHarness { ... }
//! seeds_battery::battery!(MyHarness);          // all three layers
//! // or one layer: seeds_battery::index_battery!(MyHarness);
//! ```
//!
//! | macro | cases | needs |
//! |---|---|---|
//! | [`index_battery!`] | queries in term-then-key order, exact pages, specs and extractor, large streamed results, concurrent writers, a model-based test | `conditional_batch` + `ordered_scan` (otherwise each case checks `Unsupported` and skips) |
//! | [`content_battery!`] | add/find/mem, corruption detected on find, concurrent adds, batch add, links, test-and-set races, watch | `compare_and_swap` for test-and-set, `watch` for watch |
//! | [`crdt_battery!`] | Grove's operations, lost-update-free merge (one handle, and two handles on a shared server), snapshots that never tear, bad records, reopen | `compare_and_swap` for merge |
//!
//! The macros use only `$crate::` paths; cases run like the conformance battery's, on
//! their own runtime with a deadline, and print `conformance: SKIP <case>: <reason>`
//! when the backend's capabilities rule them out. `SEEDS_MODEL_CASES` sets the number
//! of sequences of the index model test (default 48).
#![deny(unsafe_code)]

pub mod cases;

#[doc(hidden)]
pub use conformance as __conformance;

/// Every case of all three layers against `$harness`.
#[macro_export]
macro_rules! battery {
    ($harness:expr $(,)?) => {
        $crate::index_battery!($harness);
        $crate::content_battery!($harness);
        $crate::crdt_battery!($harness);
    };
}

/// The secondary-index cases against `$harness`.
#[macro_export]
macro_rules! index_battery {
    ($harness:expr $(,)?) => {
        $crate::__seeds_cases! { $harness;
            index::index_queries_in_term_then_key_order,
            index::index_pages_resume_exactly,
            index::index_specs_deletes_and_extractor,
            index::index_large_results_stream_in_order,
            index::index_concurrent_writers_keep_entries_exact,
            index_model::index_model_based,
        }
    };
}

/// The content-addressed and link store cases against `$harness`.
#[macro_export]
macro_rules! content_battery {
    ($harness:expr $(,)?) => {
        $crate::__seeds_cases! { $harness;
            content::content_add_find_mem,
            content::content_find_detects_corruption,
            content::content_concurrent_adds_of_one_value,
            content::content_add_batch,
            content::links_set_find_remove_list,
            content::links_test_and_set,
            content::links_watch,
        }
    };
}

/// The CRDT group storage cases against `$harness`.
#[macro_export]
macro_rules! crdt_battery {
    ($harness:expr $(,)?) => {
        $crate::__seeds_cases! { $harness;
            crdt::crdt_save_load_delete_list_close,
            crdt::crdt_merge_loses_no_update,
            crdt::crdt_merge_across_two_handles,
            crdt::crdt_snapshots_never_tear,
            crdt::crdt_bad_records_are_corruption,
            crdt::crdt_survives_reopen,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __seeds_cases {
    ($harness:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::__conformance::runner::run(
                    ::std::stringify!($case),
                    $harness,
                    $crate::cases::$module::$case,
                );
            }
        )*
    };
}
