//! Everything a dump, restore, copy or verify can answer.

use std::path::PathBuf;

/// Why a transfer stopped. Every variant names where (partition, block, file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// A backend call failed.
    #[error("{context}: {source}")]
    Backend {
        /// What was being done, e.g. `scan of partition users in the source`.
        context: String,
        /// The backend's error.
        #[source]
        source: backend_api::Error,
    },
    /// Reading or writing the dump or checkpoint file failed.
    #[error("{context}: {source}")]
    Io {
        /// Which file and what was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The dump failed a check. `block` is the block's sequence number (`None`: the file
    /// header), `offset` the byte offset of the block's header in the dump file.
    #[error("corrupt dump: {}, offset {offset}: {detail}", block.map_or("file header".to_owned(), |b| format!("block {b}")))]
    Corrupt {
        /// Sequence number of the bad block; `None` for the file header.
        block: Option<u64>,
        /// Byte offset of the block in the dump.
        offset: u64,
        /// Which check failed.
        detail: String,
    },
    /// The dump was written by a newer format version.
    #[error(
        "dump format version {found} is not supported (this build reads version {supported}); use a newer kvb"
    )]
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The dump uses zstd blocks and this build has no zstd.
    #[error("the dump has zstd-compressed blocks; build kv-transfer with its `zstd` feature")]
    NoZstd,
    /// The destination partition already holds keys (and the copy was not asked to
    /// merge into it).
    #[error(
        "destination partition {partition} is not empty ({keys} keys); empty it, or allow merging (kvb: --merge)"
    )]
    NotEmpty {
        /// The partition.
        partition: String,
        /// Keys found.
        keys: u64,
    },
    /// The final check found the two sides different.
    #[error(
        "verification failed for partition {partition}: source has {src_keys} keys (digest {src_digest}), destination {dst_keys} keys (digest {dst_digest})"
    )]
    Mismatch {
        /// The partition.
        partition: String,
        /// Keys in the source.
        src_keys: u64,
        /// Keys in the destination.
        dst_keys: u64,
        /// Source content digest, hex.
        src_digest: String,
        /// Destination content digest, hex.
        dst_digest: String,
    },
    /// The checkpoint file is unreadable or belongs to another copy.
    #[error("checkpoint {path}: {detail}")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The progress callback asked to stop; the checkpoint (if any) is saved.
    #[error("interrupted; the checkpoint is saved, run the same copy again to resume")]
    Interrupted,
}

impl TransferError {
    pub(crate) fn backend(context: impl Into<String>) -> impl FnOnce(backend_api::Error) -> Self {
        let context = context.into();
        move |source| TransferError::Backend { context, source }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| TransferError::Io { context, source }
    }
}

/// Shorthand for results carrying [`TransferError`].
pub type Result<T, E = TransferError> = std::result::Result<T, E>;
