//! `backend-api`: the [`StorageBackend`] trait and its types, nothing else.
//!
//! A backend holds named [`Partition`]s, each an ordered map from key bytes to value
//! bytes. Every backend keeps the same contract (see `docs/contract.md` in the
//! repository), and the `conformance` crate checks it.
//!
//! | crate | engine |
//! |---|---|
//! | `backend-mem` | in-process ordered maps, TTL, memory cap |
//! | `backend-file` | our own Bitcask-style log-structured store |
//! | `backend-rocks` | RocksDB; partitions are column families |
//! | `backend-sled` | sled 0.34; partitions are trees |
//! | `backend-redis` | a Redis server; partitions are key prefixes |
//!
//! This crate has no runtime and four small dependencies, so every backend and every
//! user links the same one.
//!
//! ```
//! use backend_api::{Partition, ScanRange, StorageBackend};
//!
//! async fn copy_prefix(from: &dyn StorageBackend, to: &dyn StorageBackend) -> backend_api::Result<()> {
//!     let p = Partition::new("users")?;
//!     to.create_partition(&p).await?;
//!     let mut pairs = from.scan(&p, ScanRange::prefix("user:")).await?;
//!     while let Some(item) = std::future::poll_fn(|cx| pairs.as_mut().poll_next(cx)).await {
//!         let (key, value) = item?;
//!         to.put(&p, &key, &value).await?;
//!     }
//!     Ok(())
//! }
//! ```
#![deny(unsafe_code)]

mod backend;
mod capabilities;
mod error;
mod options;
mod partition;
mod scan;

pub use backend::{EntryStream, KvStream, Status, StorageBackend, WatchStream};
pub use capabilities::{Capabilities, DEFAULT_MAX_KEY_LEN, DEFAULT_MAX_VALUE_LEN};
pub use error::{BoxError, Error, Result};
pub use options::{BatchOutcome, CasOutcome, Check, KeyRange, Operation, PutOptions, WatchEvent};
pub use partition::{MAX_PARTITION_NAME_LEN, Partition, SYSTEM_PREFIX};
pub use scan::{Entry, ScanRange, prefix_successor};

pub use async_trait::async_trait;
pub use bytes::Bytes;
pub use futures_core::Stream;
