//! Building blocks shared by the `StorageBackend` implementations in this workspace.
//!
//! Not part of the contract: a third-party backend may use them or not.
//!
//! - [`WatchHub`]: per-partition broadcast of committed writes with the contract's lag
//!   signal; writers never wait for a slow watcher.
//! - [`blocking_stream`]: runs a blocking engine iterator on tokio's blocking pool and
//!   hands it to the caller as a [`KvStream`](backend_api::KvStream), a chunk at a time,
//!   stopping when the stream is dropped.
//! - [`ttl`]: a one-byte-tagged value header carrying an expiry deadline, for engines
//!   without native expiry.
//! - [`KeyLocks`]: striped per-key write locks, so an engine without native CAS can make
//!   CAS atomic and publish each key's watch events in commit order.
//! - [`validate_batch`]: rejects a whole batch up front.
#![deny(unsafe_code)]

mod batch;
mod blocking;
mod locks;
mod partition_map;
pub mod ttl;
mod watch;

pub use batch::validate_batch;
pub use blocking::{SCAN_CHUNK, blocking_copy_stream, blocking_stream, blocking_stream_with};
pub use locks::KeyLocks;
pub use partition_map::{NameHasher, PartitionMap};
pub use watch::{DEFAULT_WATCH_CAPACITY, WatchHub};
