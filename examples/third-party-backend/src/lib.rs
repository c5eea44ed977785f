//! `SortedVecBackend`: a small in-memory backend written against the public
//! `backend-api` crate only, to show how a third party implements `StorageBackend`.
//!
//! ```
//! use backend_api::{Partition, StorageBackend};
//! use third_party_backend::{SortedVecBackend, SortedVecConfig};
//!
//! # futures_executor_free::run(async {
//! let store = SortedVecBackend::new(SortedVecConfig::new());
//! let users = Partition::new("users")?;
//! store.create_partition(&users).await?;
//! store.put(&users, b"ada", b"lovelace").await?;
//! assert_eq!(store.get(&users, b"ada").await?.as_deref(), Some(&b"lovelace"[..]));
//! # Ok::<(), backend_api::Error>(()) }).unwrap();
//! # mod futures_executor_free {
//! #     // The calls above never wait, so one poll with a no-op waker finishes them.
//! #     pub fn run<F: std::future::Future>(f: F) -> F::Output {
//! #         let mut f = std::pin::pin!(f);
//! #         let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #         match f.as_mut().poll(&mut cx) {
//! #             std::task::Poll::Ready(out) => out,
//! #             std::task::Poll::Pending => unreachable!("nothing here waits"),
//! #         }
//! #     }
//! # }
//! ```
//!
//! Each partition is a `Vec` of pairs kept sorted, behind one mutex. Scans are lazy: the
//! stream holds a cursor and finds its next key under the lock on every poll, so memory
//! stays bounded whatever the range. CAS, conditional batches, range deletes, watch and
//! TTL are not offered: their capabilities are false and the trait's default bodies (or
//! `Capabilities::check_operation`, for a range delete inside a batch) answer
//! `Error::Unsupported`, which the conformance battery checks.
//!
//! The crate has the shape of every backend crate in the kv-backends workspace
//! (docs/writing-a-backend.md): `config.rs` (the config and the capabilities it
//! declares), `error.rs` (the errors this backend raises), `backend.rs` (the trait
//! adapter only), `scan.rs` (the scan stream) and `store.rs` (the engine: sorted
//! vectors).

mod backend;
mod config;
mod error;
mod scan;
mod store;

pub use backend::SortedVecBackend;
pub use config::SortedVecConfig;
