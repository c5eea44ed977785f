//! The cases, one module per layer. Each case is a public async function over a
//! [`Harness`](conformance::Harness), returning [`Outcome`](conformance::Outcome).

pub mod content;
pub mod crdt;
pub mod index;
pub mod index_model;
mod util;
