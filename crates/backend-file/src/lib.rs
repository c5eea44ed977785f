//! `backend-file`: a Bitcask-style log-structured
//! [`StorageBackend`](backend_api::StorageBackend), the workspace's embedded default.
//!
//! Every write appends a CRC-checked record to one active file; an ordered keydir in RAM
//! maps each live key to its newest record (file, offset, length, sequence number,
//! expiry), so a get is one map lookup plus one positioned read, and scans are ordered
//! without sorting. Files rotate at [`FileConfig::max_file_size`]: a sealed file is
//! synced and given a hint file (its index: keys and record places) by a background
//! thread, off the write path. A merge
//! ([`compact`](backend_api::StorageBackend::compact), or automatic past
//! [`FileConfig::merge_trigger`]) rewrites the live records into new files with hint
//! files. The next open reads the hints instead of the values and scans only the last
//! active file; it appends to no file it found (writes start a new file), so a tail the
//! OS dropped after a failed `fdatasync` can only ever be a torn tail. Rotation syncs
//! the sealed file before the new one gets a record, so the writes a power cut keeps
//! are a prefix of those made. The byte layout is in `docs/file-format.md`.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use backend_api::{Partition, StorageBackend};
//! use backend_file::{FileBackend, FileConfig, SyncPolicy};
//!
//! let dir = std::env::temp_dir().join(format!("backend-file-doc-{}", std::process::id()));
//! let store = FileBackend::open(FileConfig::new(&dir).sync_policy(SyncPolicy::Always)).await?;
//! let users = Partition::new("users")?;
//! store.create_partition(&users).await?;
//! store.put(&users, b"alice", b"admin").await?;
//! assert_eq!(store.get(&users, b"alice").await?.as_deref(), Some(&b"admin"[..]));
//! store.close().await?;
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), backend_api::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Capabilities
//!
//! Declared by [`FileConfig::capabilities`]: `ordered_scan`, `reverse_scan`,
//! `atomic_batch` and `cross_partition_batch` (a batch, over any partitions, is one
//! framed run of records in the one log: recovery applies all of it or none), `conditional_batch` and `compare_and_swap` (its
//! one-key case, same code): validation, checks and append all under the writer lock, so
//! nothing writes between the checks and the append; `range_delete` (one range-tombstone
//! record in the batch's frame; the keydir drops the range's keys one seek at a time, in
//! bounded memory; recovery lets it hide every older record of its range by sequence
//! number; hint files carry it; merge drops it with the files it could hide keys in),
//! `watch` (this handle's writes; a range delete that removed a live key is one
//! `RangeDeleted`), `ttl` (expiry in the record), `persistent`, `compact`, `exact_len`.
//! Not `snapshot_scan` (a scan reads the keydir a chunk at a time) and not
//! `cross_process_watch` (one process owns the directory). A delete of an absent or
//! expired key, in any write path, writes and publishes nothing.
//!
//! # Format versions
//!
//! Files are written with format version 2 (range tombstones); version 1 stores still
//! open and are never appended to; a file of a version this build does not read fails
//! the open with [`Error::UnsupportedVersion`](backend_api::Error::UnsupportedVersion)
//! (repair mode included) rather than being misread. The policy is in
//! `docs/file-format.md`, "Versions".
//!
//! # Durability
//!
//! | persistent | acknowledged write survives process kill | survives power loss |
//! |---|---|---|
//! | yes | yes: the record is written to the OS before the write is acknowledged | with [`SyncPolicy::Always`] (group commit: concurrent writers share one `fdatasync`); with [`SyncPolicy::EveryMs`]`(n)` all but the last `n` ms; with [`SyncPolicy::Never`] after `flush()`/`close()` |
//!
//! A write or `fdatasync` that fails with an unknown effect on disk poisons the handle:
//! that call answers [`Error::Io`](backend_api::Error::Io) naming the file, every later
//! write and `flush` answers [`Error::Poisoned`](backend_api::Error::Poisoned) until the
//! store is reopened (a failed `fdatasync` is never retried as if it had succeeded).
//! Reads keep working. All file I/O goes through [`io::Vfs`]; the filesystem
//! assumptions are in `docs/file-format.md`.
//!
//! # Recovery
//!
//! Open takes an exclusive OS lock on `LOCK` ([`Error::Locked`](backend_api::Error::Locked)
//! otherwise; a killed process's lock is released by the OS), finishes or discards an
//! interrupted merge, loads each data file's hint (checksummed) or scans it, cuts a torn
//! tail back to the last whole record or committed batch, and fails with
//! [`Error::Corruption`](backend_api::Error::Corruption) naming file and offset for a bad
//! record anywhere else, unless [`FileConfig::repair`] is set. The highest sequence number
//! wins, whatever the file order. Every length read from disk is checked against the
//! configured limits and the bytes remaining before anything is allocated.
//!
//! # Why one log for all partitions
//!
//! Partitions share one log (each record carries a partition id) rather than a directory
//! each: a batch across partitions is one framed write, one `fdatasync` covers every
//! partition's writers, and the number of open files does not grow with partitions.
//! Dropping a partition writes one record; its space comes back at the next merge.
//!
//! The price is that `compact(p)` merges the whole store: every file interleaves all
//! partitions' records, so a file is freed only once every live record in it, of any
//! partition, is copied out, and a tombstone can be dropped only when every older file
//! is a merge input. Its cost follows the whole store's live bytes, not `p`'s.
//!
//! # Errors
//!
//! Every I/O error is [`Error::Io`](backend_api::Error::Io) naming the file or directory,
//! with the OS error as its source; a held lock is
//! [`Error::Locked`](backend_api::Error::Locked) (recognised from the error kind); a bad
//! record is [`Error::Corruption`](backend_api::Error::Corruption) naming file and
//! offset. Measured figures are in `docs/benchmarks.md`.
#![deny(unsafe_code)]

mod backend;
mod cache;
mod commit;
mod config;
mod error;
mod files;
pub mod format;
mod heap;
mod hint;
pub mod io;
mod keydir;
mod manifest;
mod merge;
mod plan;
mod reader;
mod recovery;
mod scan;
mod seal;
mod store;
mod verify;
mod writer;

pub use backend::FileBackend;
pub use config::{FileConfig, SyncPolicy};
pub use recovery::{DroppedRange, RecoveryReport, TruncatedTail};
pub use store::MergeStats;
pub use verify::{VerifyIssue, VerifyReport, verify_dir};

/// Longest partition name stored in a partition record's key.
pub(crate) const MAX_NAME_LEN: usize = backend_api::MAX_PARTITION_NAME_LEN;

/// The repository README's quickstart, compiled as a doc test of this crate (the
/// embedded default it runs on).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeQuickstart;
