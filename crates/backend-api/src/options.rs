//! Write options and batch operations.

use std::ops::Bound;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::{Partition, prefix_successor};

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

/// One write of a [`StorageBackend::batch`](crate::StorageBackend::batch) or
/// [`StorageBackend::conditional_batch`](crate::StorageBackend::conditional_batch).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Remove `key` from `partition`; a missing key is a no-op (nothing written, no
    /// event).
    Delete {
        /// Target partition.
        partition: Partition,
        /// The key.
        key: Bytes,
    },
    /// Remove every key of `partition` in `range`, atomically with the rest of the
    /// batch, in bounded memory whatever the range's size. Needs `range_delete`.
    /// Watchers see one [`WatchEvent::RangeDeleted`], and only when at least one live
    /// key was removed.
    DeleteRange {
        /// Target partition.
        partition: Partition,
        /// The keys to remove.
        range: KeyRange,
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

    /// A delete of every key in `range`.
    pub fn delete_range(partition: &Partition, range: KeyRange) -> Self {
        Operation::DeleteRange {
            partition: partition.clone(),
            range,
        }
    }

    /// A delete of every key starting with `prefix` (every key for an empty prefix).
    pub fn delete_prefix(partition: &Partition, prefix: impl AsRef<[u8]>) -> Self {
        Self::delete_range(partition, KeyRange::prefix(prefix))
    }

    /// The partition this operation writes to.
    pub fn partition(&self) -> &Partition {
        match self {
            Operation::Put { partition, .. }
            | Operation::Delete { partition, .. }
            | Operation::DeleteRange { partition, .. } => partition,
        }
    }

    /// The single key this operation writes (`None` for a range delete).
    pub fn key(&self) -> Option<&Bytes> {
        match self {
            Operation::Put { key, .. } | Operation::Delete { key, .. } => Some(key),
            Operation::DeleteRange { .. } => None,
        }
    }
}

/// The keys of one partition in `[start, end)`, each bound optional (`None`: open).
///
/// A bound, when given, must be a valid key (1 to `max_key_len` bytes); otherwise the
/// operation carrying the range answers [`Error::InvalidKey`](crate::Error::InvalidKey).
/// An empty or inverted range removes nothing.
///
/// ```
/// use backend_api::KeyRange;
/// let r = KeyRange::prefix("user:");
/// assert!(r.contains(b"user:7"));
/// assert!(!r.contains(b"users"));
/// assert!(KeyRange::prefix("").contains(b"anything"));
/// assert!(KeyRange::between("b", "a").is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KeyRange {
    /// Inclusive lower bound; `None` is open.
    pub start: Option<Bytes>,
    /// Exclusive upper bound; `None` is open.
    pub end: Option<Bytes>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        Self::default()
    }

    /// Keys in `[start, end)`.
    pub fn between(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        KeyRange {
            start: Some(start.into()),
            end: Some(end.into()),
        }
    }

    /// Keys `>= start`.
    pub fn from(start: impl Into<Bytes>) -> Self {
        KeyRange {
            start: Some(start.into()),
            end: None,
        }
    }

    /// Keys `< end`.
    pub fn until(end: impl Into<Bytes>) -> Self {
        KeyRange {
            start: None,
            end: Some(end.into()),
        }
    }

    /// Keys starting with `prefix` (every key for an empty prefix).
    pub fn prefix(prefix: impl AsRef<[u8]>) -> Self {
        let prefix = prefix.as_ref();
        KeyRange {
            start: (!prefix.is_empty()).then(|| Bytes::copy_from_slice(prefix)),
            end: prefix_successor(prefix),
        }
    }

    /// True when `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_deref().is_none_or(|s| key >= s)
            && self.end.as_deref().is_none_or(|e| key < e)
    }

    /// True when no key can lie in the range.
    pub fn is_empty(&self) -> bool {
        matches!((&self.start, &self.end), (Some(s), Some(e)) if s >= e)
    }

    /// True when some key lies both in this range and under `prefix`.
    pub fn overlaps_prefix(&self, prefix: &[u8]) -> bool {
        let under = KeyRange::prefix(prefix);
        let lower = match (&self.start, &under.start) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.as_ref().or(b.as_ref()),
        };
        let upper = match (&self.end, &under.end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.as_ref().or(b.as_ref()),
        };
        !matches!((lower, upper), (Some(l), Some(u)) if l >= u)
    }

    /// Bounds for ordered-map range calls (`BTreeMap::range` and kin). Check
    /// [`KeyRange::is_empty`] first: such calls panic on inverted bounds.
    pub fn bounds(&self) -> (Bound<Bytes>, Bound<Bytes>) {
        let lower = self.start.clone().map_or(Bound::Unbounded, Bound::Included);
        let upper = self.end.clone().map_or(Bound::Unbounded, Bound::Excluded);
        (lower, upper)
    }
}

/// One condition of a [`StorageBackend::conditional_batch`](crate::StorageBackend::conditional_batch):
/// `key` in `partition` must currently hold exactly `expected` (`None`: absent, which
/// includes expired).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// The partition of the key.
    pub partition: Partition,
    /// The key.
    pub key: Bytes,
    /// The value it must hold, byte for byte; `None`: it must be absent.
    pub expected: Option<Bytes>,
}

impl Check {
    /// `key` must hold exactly `value`.
    pub fn equals(partition: &Partition, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Check {
            partition: partition.clone(),
            key: key.into(),
            expected: Some(value.into()),
        }
    }

    /// `key` must be absent (never written, deleted or expired).
    pub fn absent(partition: &Partition, key: impl Into<Bytes>) -> Self {
        Check {
            partition: partition.clone(),
            key: key.into(),
            expected: None,
        }
    }

    /// `key` must hold `expected` (`None`: absent).
    pub fn new(partition: &Partition, key: impl Into<Bytes>, expected: Option<Bytes>) -> Self {
        Check {
            partition: partition.clone(),
            key: key.into(),
            expected,
        }
    }

    /// True when `current` (what the key holds now, `None` if absent) satisfies it.
    pub fn holds(&self, current: Option<&[u8]>) -> bool {
        self.expected.as_deref() == current
    }
}

/// The answer of [`StorageBackend::conditional_batch`](crate::StorageBackend::conditional_batch).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchOutcome {
    /// Every check held and every operation was applied.
    Applied,
    /// Check number `index` (the first, in order, that failed) did not hold; nothing
    /// was written.
    CheckFailed {
        /// Position of the failed check in the `checks` argument.
        index: usize,
        /// What its key held at the moment of checking (`None`: absent).
        current: Option<Bytes>,
    },
}

impl BatchOutcome {
    /// True for [`BatchOutcome::Applied`].
    pub fn is_applied(&self) -> bool {
        matches!(self, BatchOutcome::Applied)
    }
}

/// The answer of [`StorageBackend::compare_and_swap`](crate::StorageBackend::compare_and_swap).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum WatchEvent {
    /// `key` was set to `value`.
    Put {
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// `key` was deleted. A delete of an absent key writes nothing and is not
    /// reported.
    Delete {
        /// The key.
        key: Bytes,
    },
    /// A range delete removed at least one live key of `range` (the range as written,
    /// not clipped to the watcher's prefix). Reported to watchers whose prefix overlaps
    /// the range.
    RangeDeleted {
        /// The range of the [`Operation::DeleteRange`].
        range: KeyRange,
    },
    /// The watcher fell behind and `n` events were dropped for it. Writers never wait
    /// for a slow watcher; re-read the state if you need it complete.
    Lagged(u64),
}
