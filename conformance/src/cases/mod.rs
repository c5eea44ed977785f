//! The cases, grouped by the part of the contract they check. Each is a public async
//! function taking the harness by value, so a backend can also call one directly.

pub mod batch;
pub mod cas;
pub mod conditional;
pub mod cross_handle;
pub mod edges;
pub mod handles;
pub mod keys_values;
pub mod lifecycle;
pub mod model;
pub mod partitions;
pub mod persistence;
pub mod range_delete;
pub mod scan;
pub mod streams;
pub mod ttl;
pub mod ttl_entries;
pub mod ttl_paths;
pub mod watch;
pub mod watch_paths;

mod util;
