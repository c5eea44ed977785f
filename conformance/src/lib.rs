//! The conformance battery: every promise of the `StorageBackend` contract as a test.
//!
//! A backend crate runs the whole battery with one line in a test file:
//!
//! ```ignore
//! // tests/conformance.rs
//! conformance::battery!(my_backend::tests::MyHarness::default());
//! ```
//!
//! The macro expands to one `#[test]` per case, using only `$crate::` paths, so the
//! calling crate needs no tokio or proptest of its own. The harness (see [`Harness`])
//! opens fresh isolated stores. Cases a backend's [`Capabilities`] rule out are skipped,
//! each skip written to stderr with its name and reason, and an operation whose
//! capability is false is checked to answer `Error::Unsupported`.
//!
//! [`Capabilities`]: backend_api::Capabilities
#![deny(unsafe_code)]

pub mod cases;
mod harness;
#[doc(hidden)]
pub mod runner;

pub use harness::{Ctx, Harness, Outcome, Skip};

/// Expands to one `#[test]` per conformance case, run against `$harness` (an
/// expression evaluated once per test, of a type implementing [`Harness`]).
#[macro_export]
macro_rules! battery {
    ($harness:expr) => {
        $crate::__battery_tests! { $harness;
            partitions::create_partition_is_idempotent,
            partitions::bad_partition_names_are_rejected,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __battery_tests {
    ($harness:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::runner::run(stringify!($case), $harness, $crate::cases::$module::$case);
            }
        )*
    };
}
