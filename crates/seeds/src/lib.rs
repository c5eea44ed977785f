//! The seed systems as thin layers over [`StorageBackend`], so each runs on every
//! backend of this workspace and on third-party ones:
//!
//! | module | seed | what |
//! |---|---|---|
//! | [`index`] | Riak KV 2i | objects with secondary indexes: equality, term range and `$key` queries, `return_terms`, `max_results`, continuations |
//! | [`content`] | Irmin | a content-addressed store (BLAKE3, verified on every read) and a link store with test-and-set and watches |
//! | [`crdt`] | Grove | typed CRDT state by replication group: save, load, delete, list, and a lost-update-free `merge` |
//!
//! Each layer owns a few partitions named after the name it is opened with, and keeps
//! to the contract of `docs/contract.md`: it needs only what the backend's
//! [`Capabilities`](backend_api::Capabilities) promise and answers
//! [`Error::Unsupported`](backend_api::Error::Unsupported) when a capability it needs is
//! missing, never emulating it. The batteries that check the layers on any backend are
//! in the `seeds-battery` crate; `docs/seeds.md` maps every operation of the five seed
//! designs to its API here.
//!
//! [`StorageBackend`]: backend_api::StorageBackend
#![deny(unsafe_code)]

pub mod content;
pub mod crdt;
pub mod index;
mod partitions;
