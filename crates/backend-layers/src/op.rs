//! What a layer knows about a call: which operation, on what, how big.

use std::future::Future;
use std::pin::Pin;

use backend_api::{BatchOutcome, Bytes, CasOutcome, Entry, Error, Partition, Result, Status};
use futures_core::stream::BoxStream;

/// The future every `StorageBackend` method returns (what `#[async_trait]` expands to).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// One `StorageBackend` method, as layers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    /// `create_partition`
    CreatePartition,
    /// `drop_partition`
    DropPartition,
    /// `partition_exists`
    PartitionExists,
    /// `list_partitions`
    ListPartitions,
    /// `get`
    Get,
    /// `get_many`
    GetMany,
    /// `exists`
    Exists,
    /// `put`
    Put,
    /// `put_with`
    PutWith,
    /// `delete`
    Delete,
    /// `scan` (the call that opens the stream)
    Scan,
    /// `scan_entries` (the call that opens the stream)
    ScanEntries,
    /// `batch`
    Batch,
    /// `conditional_batch`
    ConditionalBatch,
    /// `compare_and_swap`
    CompareAndSwap,
    /// `watch` (the call that opens the stream)
    Watch,
    /// `partition_size`
    PartitionSize,
    /// `len`
    Len,
    /// `is_empty`
    IsEmpty,
    /// `compact`
    Compact,
    /// `flush`
    Flush,
    /// `status`
    Status,
    /// `close`
    Close,
}

impl Op {
    /// Number of operations (the length of [`Op::ALL`]).
    pub const COUNT: usize = 23;

    /// Every operation, in declaration order; `Op::ALL[op.index()] == op`.
    pub const ALL: [Op; Op::COUNT] = [
        Op::CreatePartition,
        Op::DropPartition,
        Op::PartitionExists,
        Op::ListPartitions,
        Op::Get,
        Op::GetMany,
        Op::Exists,
        Op::Put,
        Op::PutWith,
        Op::Delete,
        Op::Scan,
        Op::ScanEntries,
        Op::Batch,
        Op::ConditionalBatch,
        Op::CompareAndSwap,
        Op::Watch,
        Op::PartitionSize,
        Op::Len,
        Op::IsEmpty,
        Op::Compact,
        Op::Flush,
        Op::Status,
        Op::Close,
    ];

    /// Position in [`Op::ALL`], for per-operation tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The method's name, e.g. `"get"`: the `operation` label and span field.
    pub fn name(self) -> &'static str {
        match self {
            Op::CreatePartition => "create_partition",
            Op::DropPartition => "drop_partition",
            Op::PartitionExists => "partition_exists",
            Op::ListPartitions => "list_partitions",
            Op::Get => "get",
            Op::GetMany => "get_many",
            Op::Exists => "exists",
            Op::Put => "put",
            Op::PutWith => "put_with",
            Op::Delete => "delete",
            Op::Scan => "scan",
            Op::ScanEntries => "scan_entries",
            Op::Batch => "batch",
            Op::ConditionalBatch => "conditional_batch",
            Op::CompareAndSwap => "compare_and_swap",
            Op::Watch => "watch",
            Op::PartitionSize => "partition_size",
            Op::Len => "len",
            Op::IsEmpty => "is_empty",
            Op::Compact => "compact",
            Op::Flush => "flush",
            Op::Status => "status",
            Op::Close => "close",
        }
    }

    /// True when running the call again after an ambiguous failure (the first attempt
    /// may or may not have taken effect) leaves the store as one successful call would.
    ///
    /// Reads, `put`, `put_with`, `delete`, `batch` (puts, deletes and range deletes
    /// end in the same state when applied twice), `create_partition`, `compact`,
    /// `flush` and `close` are. `drop_partition` is not (a second attempt after a
    /// silent success answers `PartitionNotFound`), nor are `compare_and_swap` and
    /// `conditional_batch` (a second attempt after a silent success sees its own write
    /// and answers `Mismatch`/`CheckFailed`, telling the caller the opposite of what
    /// happened).
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Op::DropPartition | Op::CompareAndSwap | Op::ConditionalBatch
        )
    }
}

/// What a layer is told about one call. Never holds the key itself, only its length,
/// so no layer can leak keys into labels or logs by accident.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The method.
    pub op: Op,
    /// The wrapped backend's [`name`](backend_api::StorageBackend::name).
    pub backend: &'static str,
    /// The partition, for methods on one partition.
    pub partition: Option<&'a Partition>,
    /// Length of the key (0 for methods without one).
    pub key_len: usize,
    /// Key and value bytes the call writes (puts, batches, CAS).
    pub bytes_written: u64,
}

impl<'a> Call<'a> {
    /// A call of `op` on `backend`, with no partition, key or bytes.
    pub fn new(op: Op, backend: &'static str) -> Self {
        Call {
            op,
            backend,
            partition: None,
            key_len: 0,
            bytes_written: 0,
        }
    }

    /// The same call, on `partition`.
    pub fn on(mut self, partition: &'a Partition) -> Self {
        self.partition = Some(partition);
        self
    }

    /// The same call, with a key of `len` bytes.
    pub fn key(mut self, len: usize) -> Self {
        self.key_len = len;
        self
    }

    /// The same call, writing `bytes`.
    pub fn writes(mut self, bytes: u64) -> Self {
        self.bytes_written = bytes;
        self
    }
}

/// What a successful call answered, as layers measure it.
pub trait Reply: Send + 'static {
    /// Value bytes handed back to the caller (0 for answers without values).
    fn bytes_read(&self) -> u64 {
        0
    }
}

impl Reply for () {}
impl Reply for bool {}
impl Reply for u64 {}
impl Reply for Vec<Partition> {}
impl Reply for Status {}
impl Reply for CasOutcome {}
impl Reply for BatchOutcome {}
/// Every stream a call opens (`KvStream`, `EntryStream`, `WatchStream`).
impl<I: Send + 'static> Reply for BoxStream<'static, Result<I>> {}

/// The stream a scan opens: [`KvStream`](backend_api::KvStream) for `scan`,
/// [`EntryStream`](backend_api::EntryStream) for `scan_entries`.
pub type ScanStream<I> = BoxStream<'static, Result<I>>;

/// An item of a scan stream, as layers measure it.
pub trait ScanItem: Send + 'static {
    /// Key and value bytes the item hands back.
    fn bytes(&self) -> u64;
}

impl ScanItem for (Bytes, Bytes) {
    fn bytes(&self) -> u64 {
        (self.0.len() + self.1.len()) as u64
    }
}

impl ScanItem for Entry {
    fn bytes(&self) -> u64 {
        (self.key.len() + self.value.len()) as u64
    }
}

impl Reply for Option<Bytes> {
    fn bytes_read(&self) -> u64 {
        self.as_ref().map_or(0, |v| v.len() as u64)
    }
}

impl Reply for Vec<Option<Bytes>> {
    fn bytes_read(&self) -> u64 {
        self.iter().map(Reply::bytes_read).sum()
    }
}

/// A short, stable, bounded name for an error's kind: the `kind` label and the span's
/// `outcome`. Never includes the error's text (which may name keys).
pub fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidPartitionName { .. } => "invalid_partition_name",
        Error::PartitionNotFound(_) => "partition_not_found",
        Error::InvalidKey { .. } => "invalid_key",
        Error::InvalidValue { .. } => "invalid_value",
        Error::Unsupported { .. } => "unsupported",
        Error::Io { .. } => "io",
        Error::Corruption { .. } => "corruption",
        Error::Unavailable { .. } => "unavailable",
        Error::Timeout { .. } => "timeout",
        Error::Closed => "closed",
        Error::Locked { .. } => "locked",
        Error::InvalidConfig { .. } => "invalid_config",
        Error::Poisoned { .. } => "poisoned",
        Error::UnsupportedVersion { .. } => "unsupported_version",
        Error::Backend { .. } => "backend",
        _ => "other",
    }
}

/// True for the errors worth trying again: [`Error::Unavailable`] and
/// [`Error::Timeout`]. Everything else would fail the same way again.
pub fn is_transient(error: &Error) -> bool {
    matches!(error, Error::Unavailable { .. } | Error::Timeout { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order_with_unique_names() {
        let mut names = std::collections::BTreeSet::new();
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert!(names.insert(op.name()));
        }
    }

    #[test]
    fn only_drop_cas_and_conditional_batch_are_not_idempotent() {
        let not: Vec<Op> = Op::ALL
            .into_iter()
            .filter(|op| !op.is_idempotent())
            .collect();
        assert_eq!(
            not,
            [Op::DropPartition, Op::ConditionalBatch, Op::CompareAndSwap]
        );
    }

    #[test]
    fn only_unavailable_and_timeout_are_transient() {
        assert!(is_transient(&Error::unavailable("x", None)));
        assert!(is_transient(&Error::Timeout {
            operation: "get",
            after: std::time::Duration::ZERO
        }));
        assert!(!is_transient(&Error::Closed));
        assert!(!is_transient(&Error::PartitionNotFound("p".into())));
    }
}
