//! A [`StorageBackend`](backend_api::StorageBackend) on [RocksDB] (the `rocksdb` crate
//! 0.25): each partition is a column family of one shared, multi-threaded database
//! handle.
//!
//! ```no_run
//! use backend_api::{Partition, StorageBackend};
//! use backend_rocks::{RocksBackend, RocksConfig};
//!
//! # async fn demo() -> backend_api::Result<()> {
//! let store = RocksBackend::open(RocksConfig::new("/tmp/kv-rocks-demo")).await?;
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
//! Declared once, by [`RocksConfig::capabilities`] (what `capabilities()` returns):
//!
//! | capability | | how |
//! |---|---|---|
//! | `ordered_scan`, `reverse_scan` | yes | raw iterator with lower/upper bounds in its `ReadOptions`, `seek_to_first`/`next` or `seek_to_last`/`prev`, on a blocking thread; pairs are copied into one buffer per chunk (up to 1024 pairs or 1 MiB) and become `Bytes` on the consumer's thread |
//! | `snapshot_scan` | yes | every scan reads from a RocksDB snapshot taken before `scan` returns |
//! | `atomic_batch` | yes | one `WriteBatch` across column families |
//! | `conditional_batch` | yes | checks read under the striped locks of every checked and written key, then one `WriteBatch` (see below) |
//! | `compare_and_swap` | yes | the one-key conditional batch |
//! | `range_delete` | yes | RocksDB's `delete_range_cf` inside the batch's `WriteBatch`: one range tombstone, any size |
//! | `watch` | yes | in-process [`WatchHub`](backend_support::WatchHub), fed after each commit |
//! | `cross_process_watch` | no | RocksDB's `LOCK` allows one process per store |
//! | `ttl` | yes | [`backend_support::ttl`] value header, filtered on read, dropped by a compaction filter |
//! | `persistent` | yes | |
//! | `compact` | yes | `compact_range_cf` over the whole partition |
//! | `exact_len` | yes | `len` counts live keys with a snapshot scan (O(n)); `status` has RocksDB's estimate |
//!
//! Limits: keys 1 B to 1 KiB, values up to 16 MiB (the contract's defaults).
//!
//! # Errors
//!
//! Errors keep their cause. A store directory the OS refuses to create is `Error::Io`
//! naming the directory, with the OS's `io::Error` kept. RocksDB's own errors are
//! `Error::Backend` (or `Corruption`, `Locked`) whose source is RocksDB's error, named
//! with the step and store directory at open (later, RocksDB's own I/O messages name
//! the file); RocksDB reports a status string with no errno, so it never becomes a
//! made-up `Error::Io`. A store held by another handle is `Error::Locked`: RocksDB says
//! so only in its status text, and the two fixed contexts of its lock-file failure are
//! what is matched (a failure to *open* the lock file stays `Backend`).
//!
//! # Durability
//!
//! | persistent | acknowledged write survives process kill | survives power loss |
//! |---|---|---|
//! | yes | yes (WAL) | with [`RocksConfig::sync_writes`], else once `flush()` returns |
//!
//! `flush()` syncs the WAL and flushes every partition's memtable to SST files;
//! `close()` syncs the WAL.
//!
//! # Design notes
//!
//! - **Partitions** are column families named `p:<partition>`, created and dropped at
//!   runtime; RocksDB's own `default` family is never listed, and a partition named
//!   `default` is just `p:default`. Reopening lists the families from the store.
//! - **Conditional batches and CAS**: every write to a key (put, delete, batch,
//!   conditional batch) holds that key's stripe of 1024 striped mutexes from before its
//!   engine write until its watch event is published
//!   ([`Committer`](backend_support::Committer)); a batch takes all its stripes in
//!   ascending order. RocksDB's `LOCK` file guarantees this handle is the only writer,
//!   so a conditional batch's checks, read under the stripes, still hold when its one
//!   `WriteBatch` is written. This costs an uncontended mutex per write, where a
//!   `TransactionDB` would add lock-manager and conflict-check work to *every* write and
//!   need a different database type. Expired values count as absent. A delete of an
//!   absent or expired key writes nothing and publishes nothing.
//! - **Range deletes** are RocksDB's own range tombstones, in the batch's `WriteBatch`
//!   (entries take increasing sequence numbers, so a later put in the batch survives).
//!   A batch holding one takes the committer's gate exclusively (every other write holds
//!   it shared), checks with a bounded iterator that the range holds a live key, and only
//!   then writes it and publishes one `RangeDeleted`.
//! - **TTL**: values carry the [`backend_support::ttl`] header; reads hide expired ones
//!   at once; a compaction filter drops them when their files are compacted (RocksDB
//!   turns the removal into a deletion marker, so no older version resurfaces). A TTL of
//!   zero deletes any older value.
//! - **Watch** events are published after commit under the key's stripe, so they come
//!   out in commit order per key; a slow watcher gets `WatchEvent::Lagged(n)` and never
//!   blocks writers.
//! - Point reads and writes run inline on the caller's task (memtable and block-cache
//!   speed, no fsync); with `sync_writes` every write moves to tokio's blocking pool.
//!   Scans, compaction, flush, partition create/drop and close always do.
//! - **Build**: only LZ4 is compiled in. RocksDB's C++ makes a cold build long (the
//!   workspace README states the measured time), so this crate is left out of the
//!   workspace's `default-members`; `scripts/test.sh` always builds and tests it.
//!
//! [RocksDB]: https://rocksdb.org
#![deny(unsafe_code)]

mod backend;
mod batch;
mod config;
mod engine;
mod error;
mod scan;

pub use backend::RocksBackend;
pub use config::{RocksCompression, RocksConfig};
