//! Grove's CRDT storage: typed states by replication group ([`GroupStore`]) in a
//! versioned codec ([`codec`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> backend_api::Result<()> {
//! use std::sync::Arc;
//! use seeds::crdt::{GCounter, GroupStore};
//!
//! let backend = Arc::new(backend_mem::MemBackend::open(Default::default()).await?);
//! let store: GroupStore<GCounter> = GroupStore::open(backend, "grove").await?;
//! let (mut a, mut b) = (GCounter::default(), GCounter::default());
//! a.increment("replica_a", 2);
//! b.increment("replica_b", 3);
//! store.merge("counter/views", &a, GCounter::join).await?;
//! store.merge("counter/views", &b, GCounter::join).await?;
//! assert_eq!(store.load("counter/views").await?.unwrap().value(), 5);
//! assert_eq!(store.list_groups().await?, ["counter/views"]);
//! store.close().await?;
//! # Ok(()) }
//! ```

pub mod codec;
mod gcounter;
mod store;

pub use gcounter::GCounter;
pub use store::GroupStore;
