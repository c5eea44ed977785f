//! Building blocks for `StorageBackend` implementations, in this workspace or outside it.
//!
//! Not part of the contract: a backend may use them or not, and the conformance battery
//! judges the result either way. Each piece keeps one promise of `docs/contract.md` that
//! is easy to get subtly wrong; depend on this crate (it needs tokio, which a backend
//! with watch or blocking scans has anyway) and use what fits.
//!
//! | need | tool | what it gets right |
//! |---|---|---|
//! | watch | [`WatchHub`] | per-partition fan-out filtered by prefix (a `RangeDeleted` goes to every watcher whose prefix overlaps the range); a watcher that falls behind loses the oldest events and gets `WatchEvent::Lagged(n)` with the exact number lost, so received + lagged covers what was published; `publish` never waits; `close_partition` / `close_all` end the streams on drop and close |
//! | batch validation | [`validate_batch`], [`validate_conditional_batch`] | the decided error order: every argument error (check keys, then each op's key or range bounds, value, unsupported TTL or range delete) before the first missing partition; nothing to undo because nothing was written |
//! | TTL | [`ttl`] | deadlines that cannot overflow ([`ttl::deadline_ms`] saturates, so `Duration::MAX` never wraps into the past; [`ttl::deadline_instant`] gives `None` for "never"); a one-byte value header for engines without native expiry |
//! | scans over a locked map | [`resume_after`], [`resumable`] | resuming a range after the last key yielded with an excluded bound: no key successor to compute, no overflow on `0xFF` keys or maximum-length keys, no key twice |
//! | scans over a blocking iterator | [`blocking_stream`] | the iterator runs on tokio's blocking pool and arrives a chunk at a time, at most two chunks ahead, stopping when the stream is dropped |
//! | CAS and conditional batches without engine transactions | [`KeyLocks`], [`Committer`] | striped per-key locks taken in one global order (no deadlock), held from the check through the write to the published event, so each key's events come in commit order; a batch with a range delete takes the committer's gate exclusively |
//! | running a (conditional) batch on such an engine | [`Committer::run_batch`] with a [`LockedView`] | checks read under the locks, deletes of absent keys dropped (no write, no event), one atomic engine commit, then the events |
//! | CAS as the one-key conditional batch | [`cas_as_batch`], [`cas_outcome`] | the check and write a CAS stands for, and the `CasOutcome` of the batch's answer |
//! | range deletes over an ordered in-memory map | [`RangeCursor`] | walks the keys of a `KeyRange` while the caller removes them, one seek per key, no list of keys collected |
//! | TTL values on an engine without expiry | [`Stored`], [`live_value`] | the [`ttl`] header and the value assembled without an extra allocation for small values |
//! | partition registries | [`PartitionMap`] | a map keyed by partition with a fast fixed hasher |
//!
//! None of these emulate a capability: a backend declares only what its engine does,
//! and these help it do that correctly.
#![deny(unsafe_code)]

mod batch;
mod batch_run;
mod blocking;
mod cas;
mod commit;
mod locks;
mod partition_map;
mod range;
mod range_cursor;
mod stored;
pub mod ttl;
mod watch;

pub use batch::{validate_batch, validate_conditional_batch};
pub use batch_run::{LockedView, Write, has_range_delete};
pub use blocking::{SCAN_CHUNK, blocking_copy_stream, blocking_stream, blocking_stream_with};
pub use cas::{cas_as_batch, cas_outcome};
pub use commit::{BatchGuard, Committer, Effect};
pub use locks::KeyLocks;
pub use partition_map::{NameHasher, PartitionMap};
pub use range::{resumable, resume_after};
pub use range_cursor::RangeCursor;
pub use stored::{Stored, live_header, live_header_len, live_value};
pub use watch::{DEFAULT_WATCH_CAPACITY, WatchHub};
