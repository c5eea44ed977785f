//! `backend-mem`: the whole `StorageBackend` contract in process.
//!
//! ```
//! use backend_api::{Partition, StorageBackend};
//! use backend_mem::{MemBackend, MemConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = MemBackend::open(MemConfig::default().max_memory(1 << 20)).await?;
//! let users = Partition::new("users")?;
//! db.create_partition(&users).await?;
//! db.put(&users, b"alice", b"admin").await?;
//! assert_eq!(db.get(&users, b"alice").await?.as_deref(), Some(&b"admin"[..]));
//! # Ok::<(), backend_api::Error>(()) }).unwrap();
//! ```
//!
//! # Durability
//!
//! | persistent | acknowledged write survives process kill | survives power loss |
//! |---|---|---|
//! | no | n/a | n/a |
//!
//! `flush` is a no-op; `close` (or dropping the handle) frees everything.
//!
//! # Capabilities
//!
//! | capability | value | why |
//! |---|---|---|
//! | `ordered_scan`, `reverse_scan` | yes | a `BTreeMap` per partition |
//! | `snapshot_scan` | **no** | scans read a chunk (`MemConfig::scan_chunk`, 256) per read-lock acquisition and re-seek after the last key: a write between two chunks may show. Each chunk is consistent (no batch is ever half visible inside one chunk). |
//! | `atomic_batch` | yes | a batch holds the write locks of all its partitions (taken in name order) while it applies |
//! | `conditional_batch` | yes | every partition named by a check or an operation is write-locked (in name order), the checks are read (expired = absent) and the operations applied before any lock is released |
//! | `compare_and_swap` | yes | the one-key conditional batch (same code path) |
//! | `range_delete` | yes | the range's keys are removed one B-tree seek at a time under the batch's locks (bounded memory whatever the range's size); one `RangeDeleted` event when a live key went |
//! | `watch` | yes | [`backend_support::WatchHub`], published under the write lock, so in commit order; writers never wait for watchers. Expiry and eviction are not reported, nor is a delete of an absent or expired key (which changes nothing). Streams end on `drop_partition` and `close`. |
//! | `cross_process_watch` | no | one handle is one store |
//! | `ttl` | yes | deadlines on a monotonic clock; expired keys are invisible at once and reclaimed by a background sweeper |
//! | `persistent` | no | |
//! | `compact` | no | nothing to reclaim: removed entries are freed at once |
//! | `exact_len` | yes | map size minus expired-but-unswept entries |
//! | `max_key_len`, `max_value_len` | 1 KiB, 16 MiB | the defaults |
//!
//! # Memory accounting and the cap
//!
//! Each entry counts `key.len() + value.len() + `[`ENTRY_OVERHEAD`] (96) bytes. The sum
//! per partition is `partition_size` (expired entries count until the sweeper reclaims
//! them), the store-wide sum is `status()["bytes"]` and is what
//! [`MemConfig::max_memory`](field@MemConfig::max_memory) caps. When a write takes the store over the cap, the
//! oldest-written entries of the whole store (any partition; an overwrite makes an
//! entry young again) are evicted until it fits, before the write returns, like Riak's
//! memory backend `max_memory`. `status()` reports `partitions`, `entries`, `live_keys`,
//! `entries_with_ttl`, `bytes`, `entry_overhead_bytes`, `max_memory`, `evictions`,
//! `expirations` and `sweeps`.
//!
//! # TTL sweeper
//!
//! [`MemBackend::open`] called inside a tokio runtime spawns a task that every
//! `sweep_interval` (100 ms) removes up to `sweep_budget` expired entries, taking a
//! partition's write lock for at most [`SWEEP_LOCK_BATCH`] removals at a time. It holds
//! only a `Weak` reference, so it ends at its next tick once the backend is closed or
//! dropped. Expired entries are invisible whether swept or not.
//!
//! # Why these structures
//!
//! `benches/benches/structures.rs` measures the candidate maps directly (get, overwrite
//! and a 1k-key scan over 100k keys visited in random order; run it with `cargo bench
//! -p benches --bench structures`): a `RwLock<BTreeMap<Bytes, Bytes>>` (parking_lot), a
//! `crossbeam_skiplist::SkipMap` and a `DashMap`. DashMap has the fastest point lookup
//! but is unordered, so scans would need a second ordered index or a collect-and-sort;
//! the skiplist is lock-free but slower than the B-tree on every operation there, and
//! cannot make a multi-key batch atomic to readers without a lock or versioning of its
//! own. A `BTreeMap` per partition under a parking_lot `RwLock` gives ordered
//! O(log n + k) scans and one lock for atomic batches and CAS, at a point-lookup cost
//! close to DashMap's. (Figures go stale, so they are not kept here: the bench prints
//! them.)
#![deny(unsafe_code)]

mod backend;
mod config;
mod error;
mod scan;
mod store;
mod sweeper;

pub use backend::MemBackend;
pub use config::{ENTRY_OVERHEAD, MemConfig};
pub use sweeper::SWEEP_LOCK_BATCH;
