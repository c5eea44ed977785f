//! The cases, grouped by the part of the contract they check. Each is a public async
//! function taking the harness by value, so a backend can also call one directly.

pub mod partitions;
