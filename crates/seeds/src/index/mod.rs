//! Riak-style secondary indexes (2i) over any backend with `conditional_batch`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> backend_api::Result<()> {
//! use std::sync::Arc;
//! use seeds::index::{IndexEntry, IndexedStore, Query};
//!
//! let backend = Arc::new(backend_mem::MemBackend::open(Default::default()).await?);
//! let people = IndexedStore::open(backend, "people").await?.with_extractor(|v| {
//!     // value: "<age>,<city>"
//!     let text = String::from_utf8_lossy(v);
//!     let (age, city) = text.split_once(',').unwrap_or(("0", ""));
//!     vec![
//!         IndexEntry::new("age_int", age.parse::<i64>().unwrap_or(0)),
//!         IndexEntry::new("city_bin", city),
//!     ]
//! });
//! people.put(b"ada", b"36,London").await?;
//! people.put(b"grace", b"45,Arlington").await?;
//! people.put(b"alan", b"41,London").await?;
//!
//! let page = people.query(&Query::eq("city_bin", "London")).await?;
//! let keys: Vec<_> = page.hits.iter().map(|h| &h.key[..]).collect();
//! assert_eq!(keys, [&b"ada"[..], b"alan"]);
//!
//! let first = people.query(&Query::range("age_int", 40i64, 50i64).max_results(1)).await?;
//! assert_eq!(&first.hits[0].key[..], b"alan");
//! let next = Query::range("age_int", 40i64, 50i64).continuation(first.continuation.unwrap());
//! assert_eq!(&people.query(&next).await?.hits[0].key[..], b"grace");
//! # Ok(()) }
//! ```
//!
//! The term encoding (order-preserving for signed integers and for any bytes) is
//! documented in [`term`]; the object record in [`record`].

mod entry;
mod query;
pub mod record;
mod store;
pub mod term;

pub use entry::{IndexEntry, IndexSpec};
pub use query::{Continuation, Hit, Page, Query};
pub use store::{Extractor, HitStream, IndexedStore};
pub use term::Term;
