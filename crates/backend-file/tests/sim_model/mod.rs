//! Model-based testing on the simulated disk ([`backend_file::io::sim::SimDisk`]): a
//! reference model of what the store may hold after a power cut ([`model`]), the
//! operations a case runs ([`steps`]), the driver that runs them on a store and checks
//! it after every cut and reopen ([`run`]), reading a store back whole ([`readback`])
//! and what a run explored ([`stats`]).
#![allow(dead_code)]

pub mod model;
pub mod readback;
pub mod run;
pub mod stats;
pub mod steps;

/// A multi-threaded runtime (group commit waits with `block_in_place`).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// An environment variable as a number, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
