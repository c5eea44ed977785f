//! A [`StorageBackend`](backend_api::StorageBackend) on [sled] 0.34: each partition is a
//! sled tree.
//!
//! ```no_run
//! use backend_api::{Partition, StorageBackend};
//! use backend_sled::{SledBackend, SledConfig};
//!
//! # async fn demo() -> backend_api::Result<()> {
//! let store = SledBackend::open(SledConfig::new("/tmp/kv-sled-demo")).await?;
//! let users = Partition::new("users")?;
//! store.create_partition(&users).await?;
//! store.put(&users, b"ada", b"lovelace").await?;
//! assert_eq!(store.get(&users, b"ada").await?.as_deref(), Some(&b"lovelace"[..]));
//! store.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Capabilities
//!
//! Declared once, by [`SledConfig::capabilities`] (what `capabilities()` returns):
//!
//! | capability | | how |
//! |---|---|---|
//! | `ordered_scan`, `reverse_scan` | yes | sled range iterators, forward and `rev()`, walked on a blocking thread and handed over up to 1024 pairs at a time (sled's `IVec`s; the consumer wraps them in `Bytes` without copying values) |
//! | `snapshot_scan` | **no** | sled iterators are not point-in-time views |
//! | `atomic_batch` | yes | one tree: `Tree::apply_batch`; several trees: one sled transaction over them |
//! | `conditional_batch` | yes | checks read under the striped locks of every checked and written key, then the same atomic sled write as a batch |
//! | `compare_and_swap` | yes | the one-key conditional batch |
//! | `range_delete` | **no** | sled's atomic multi-key writes hold every key in memory, so a range delete cannot be both atomic and bounded (docs/backend-sled.md) |
//! | `watch` | yes | in-process [`WatchHub`](backend_support::WatchHub), fed after each commit |
//! | `cross_process_watch` | no | sled allows one process per store anyway |
//! | `ttl` | yes | [`backend_support::ttl`] value header, filtered on read |
//! | `persistent` | yes | |
//! | `compact` | **no** | sled 0.34 has no compaction call; it rewrites segments on its own |
//! | `exact_len` | yes | `len` counts live keys (O(n) walk of the tree) |
//!
//! Limits: keys 1 B to 1 KiB, values up to 16 MiB (the contract's defaults).
//!
//! # Errors
//!
//! Errors keep their cause. An OS error at open or flush is `Error::Io` naming the file
//! or directory, its `io::Error` naming the step and keeping the original error as
//! source; sled's other errors are `Error::Backend` with sled's error as source (named
//! with the step and store directory at open). A store held by another handle is
//! `Error::Locked`, recognised by probing the `flock` sled takes, not by sled's message.
//!
//! # Durability
//!
//! | persistent | acknowledged write survives process kill | survives power loss |
//! |---|---|---|
//! | yes | after sled's flush interval ([`SledConfig::flush_every_ms`], 500 ms by default), or once `flush()` returns | once `flush()` or `close()` returns |
//!
//! `flush()` (and `close()`) is sled's `Db::flush`, which ends in `sync_file_range` on
//! Linux (neither the drive's cache nor the file's size reach stable storage), followed
//! by an `fdatasync` of sled's log and an `fsync` of each file and directory entry that
//! is new since the last flush (blob files, `conf`, the directories).
//!
//! # Design notes
//!
//! - **Partitions** are trees named `p:<partition>`; the registry is rebuilt from sled's
//!   tree names on open, so only user partitions are listed, never sled's default tree.
//! - **Watch**: sled's `Tree::watch_prefix` subscribers are bounded queues that *block
//!   the writer* when a subscriber stops draining, which the contract forbids. So
//!   writes are published to a [`WatchHub`](backend_support::WatchHub) after they commit,
//!   and a slow watcher gets `WatchEvent::Lagged(n)` instead. Every write holds a
//!   striped per-key lock from its engine write until its event is published, so
//!   events of one key come out in commit order.
//! - **Conditional batches and CAS**: the stripes of every checked and written key are
//!   locked ([`Committer`](backend_support::Committer)), the checks read the live values
//!   (expired counts as absent), then the writes go to sled as one `insert`/`remove`,
//!   one `apply_batch` or one multi-tree transaction. Every other write holds its key's
//!   stripe too, so no read is followed by an unlocked write. A delete of an absent or
//!   expired key writes nothing and publishes nothing.
//! - **TTL**: expired values are invisible to get, exists, scan, len and CAS at once;
//!   a `get` that meets one removes it with a CAS on its exact bytes (never losing a newer
//!   write). Others stay on disk until overwritten. A TTL of zero writes nothing and
//!   deletes any older value.
//! - Point operations run inline on the caller's task (sled serves them from memory and
//!   never fsyncs on the write path); scans, `len`, `partition_size`, `flush` and
//!   `close` run on tokio's blocking pool. A scan is unbounded work that may read
//!   segments sled has evicted from its cache, so it never runs on an async thread; its
//!   cost is one hand-off per 1024 pairs (see docs/backend-sled.md for the figures).
//! - Values move without extra copies: a put assembles header + value on the stack and
//!   sled copies it once into its `IVec` (values over 511 bytes go through a `Vec`); a
//!   get or scan hands out the `IVec` itself as `Bytes` (`Bytes::from_owner`), header
//!   skipped. The clock is read only for values that carry a deadline.
//!
//! [sled]: https://docs.rs/sled/0.34
#![deny(unsafe_code)]

mod backend;
mod batch;
mod config;
mod durable;
mod error;
mod scan;
mod value;

pub use backend::SledBackend;
pub use config::{SledConfig, SledMode};
