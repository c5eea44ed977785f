//! Write options and batch operations.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::Partition;

/// Options for [`StorageBackend::put_with`](crate::StorageBackend::put_with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// The key expires this long after the write. `Some(Duration::ZERO)` is a deadline
    /// already past: the write is not visible at all (the key reads as absent).
    pub ttl: Option<Duration>,
}

impl PutOptions {
    /// Expire the key `ttl` after the write.
    pub fn with_ttl(ttl: Duration) -> Self {
        PutOptions { ttl: Some(ttl) }
    }

    /// Expire the key at `deadline`; a deadline already past makes the write invisible.
    pub fn expires_at(deadline: SystemTime) -> Self {
        let ttl = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Self::with_ttl(ttl)
    }
}

/// One write of a [`StorageBackend::batch`](crate::StorageBackend::batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Set `key` to `value` in `partition`.
    Put {
        /// Target partition.
        partition: Partition,
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// Write options (TTL).
        options: PutOptions,
    },
    /// Remove `key` from `partition`; a missing key is a no-op.
    Delete {
        /// Target partition.
        partition: Partition,
        /// The key.
        key: Bytes,
    },
}

impl Operation {
    /// A plain put.
    pub fn put(partition: &Partition, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self::put_with(partition, key, value, PutOptions::default())
    }

    /// A put with options.
    pub fn put_with(
        partition: &Partition,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        options: PutOptions,
    ) -> Self {
        Operation::Put {
            partition: partition.clone(),
            key: key.into(),
            value: value.into(),
            options,
        }
    }

    /// A delete.
    pub fn delete(partition: &Partition, key: impl Into<Bytes>) -> Self {
        Operation::Delete {
            partition: partition.clone(),
            key: key.into(),
        }
    }

    /// The partition this operation writes to.
    pub fn partition(&self) -> &Partition {
        match self {
            Operation::Put { partition, .. } | Operation::Delete { partition, .. } => partition,
        }
    }

    /// The key this operation writes.
    pub fn key(&self) -> &Bytes {
        match self {
            Operation::Put { key, .. } | Operation::Delete { key, .. } => key,
        }
    }
}

/// The answer of [`StorageBackend::compare_and_swap`](crate::StorageBackend::compare_and_swap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The expected value matched and the new one was written.
    Swapped,
    /// The expected value did not match; nothing was written. `current` is what the
    /// key held at the moment of comparison (`None`: absent).
    Mismatch {
        /// The value found instead of the expected one.
        current: Option<Bytes>,
    },
}

impl CasOutcome {
    /// True for [`CasOutcome::Swapped`].
    pub fn is_swapped(&self) -> bool {
        matches!(self, CasOutcome::Swapped)
    }
}

/// One item of a [`StorageBackend::watch`](crate::StorageBackend::watch) stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// `key` was set to `value`.
    Put {
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// `key` was deleted (a delete of a missing key may or may not be reported).
    Delete {
        /// The key.
        key: Bytes,
    },
    /// The watcher fell behind and `n` events were dropped for it. Writers never wait
    /// for a slow watcher; re-read the state if you need it complete.
    Lagged(u64),
}
