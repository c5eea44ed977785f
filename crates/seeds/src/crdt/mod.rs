//! Grove's CRDT storage: typed states by replication group ([`GroupStore`]) in a
//! versioned codec ([`codec`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> backend_api::Result<()> {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use seeds::crdt::GroupStore;
//!
//! // A grow-only counter: one count per actor, joined by pointwise max.
//! type GCounter = BTreeMap<String, u64>;
//! fn join(mut a: GCounter, b: &GCounter) -> GCounter {
//!     for (actor, n) in b {
//!         let e = a.entry(actor.clone()).or_default();
//!         *e = (*e).max(*n);
//!     }
//!     a
//! }
//!
//! let backend = Arc::new(backend_mem::MemBackend::open(Default::default()).await?);
//! let store: GroupStore<GCounter> = GroupStore::open(backend, "grove").await?;
//! store.merge("counter/views", &BTreeMap::from([("a".into(), 2)]), join).await?;
//! store.merge("counter/views", &BTreeMap::from([("b".into(), 3)]), join).await?;
//! let state = store.load("counter/views").await?.unwrap();
//! assert_eq!(state.values().sum::<u64>(), 5);
//! assert_eq!(store.list_groups().await?, ["counter/views"]);
//! store.close().await?;
//! # Ok(()) }
//! ```

pub mod codec;
mod store;

pub use store::GroupStore;
