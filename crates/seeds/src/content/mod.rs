//! Irmin's stores: content-addressed values ([`ContentStore`]) and links from names to
//! hashes ([`LinkStore`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> backend_api::Result<()> {
//! use std::sync::Arc;
//! use seeds::content::{ContentStore, LinkStore};
//!
//! let backend: Arc<dyn backend_api::StorageBackend> =
//!     Arc::new(backend_mem::MemBackend::open(Default::default()).await?);
//! let objects = ContentStore::open(backend.clone(), "repo").await?;
//! let branches = LinkStore::open(backend, "repo").await?;
//!
//! let commit = objects.add(b"tree 1234, parent none, message: first").await?;
//! assert!(branches.test_and_set(b"main", None, Some(&commit)).await?);
//! assert_eq!(branches.find(b"main").await?, Some(commit));
//! assert_eq!(objects.find(&commit).await?.as_deref(), Some(&b"tree 1234, parent none, message: first"[..]));
//! # Ok(()) }
//! ```

mod hash;
mod links;
mod store;

pub use hash::Hash;
pub use links::{LinkEvent, LinkStore};
pub use store::ContentStore;
