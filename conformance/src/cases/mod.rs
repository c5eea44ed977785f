//! The cases, grouped by the part of the contract they check. Each is a public async
//! function taking the harness by value, so a backend can also call one directly.

pub mod batch;
pub mod cas;
pub mod cross_handle;
pub mod keys_values;
pub mod lifecycle;
pub mod model;
pub mod partitions;
pub mod persistence;
pub mod scan;
pub mod ttl;
pub mod watch;

mod util;
