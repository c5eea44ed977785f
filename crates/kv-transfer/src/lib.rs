//! Move data between kv-backends stores: dump to a portable file, restore from it, or
//! copy directly from one backend to another.
//!
//! - [`dump`] writes every partition of a backend to any `Write` in the format of
//!   `docs/dump-format.md` (versioned, a CRC-32C per block, per-partition BLAKE3
//!   digests, a trailer, optional zstd blocks);
//! - [`restore`] reads one back into any backend, checking every block before using it;
//! - [`copy`] streams one backend into another in batches, resumable from a checkpoint
//!   and verified at the end ([`Digest`] per partition on both sides);
//! - [`digest_partition`] is the check itself.
//!
//! All of it runs in bounded memory (a few batches or one block) whatever the store's
//! size, and reports through a progress callback that can also stop the work.
//!
//! **TTLs** travel as absolute deadlines: [`dump`] and [`copy`] read each key's with
//! [`StorageBackend::scan_entries`](backend_api::StorageBackend::scan_entries), the
//! dump stores it per record, and [`restore`] and [`copy`] write it back with
//! `PutOptions::expires_at`, skipping keys whose deadline has passed. A source that
//! cannot report TTLs (`Unsupported`) is read without them, and a destination without
//! `ttl` gets permanent keys: either way the report's `warnings` says so.
#![deny(unsafe_code)]

mod checkpoint;
mod copy;
mod digest;
mod dump;
mod error;
pub mod format;
pub mod hex;
mod partitions;
mod progress;
mod reader;
mod sink;
mod source;
mod writer;

pub use checkpoint::{Checkpoint, Mark};
pub use copy::{CopyOptions, CopyReport, VERIFY_HORIZON, copy};
pub use digest::{Digest, Digester, digest_live, digest_partition};
pub use dump::{DumpOptions, RestoreOptions, Summary, dump, restore};
pub use error::{Result, TransferError};
pub use progress::{OnProgress, Phase, Progress, ignore};
pub use reader::{Block, DumpReader, Record};
pub use source::{deadline_ms, deadline_time};
pub use writer::{Compression, DEFAULT_BLOCK_BYTES, DumpWriter};
