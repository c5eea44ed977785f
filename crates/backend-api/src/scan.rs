//! Scan ranges: which keys a scan visits, in which order, how many.

use std::ops::Bound;
use std::time::SystemTime;

use bytes::Bytes;

/// What [`StorageBackend::scan`](crate::StorageBackend::scan) visits: keys in
/// `[start, end)` that also begin with `prefix` (every bound optional), ascending or
/// descending, at most `limit` of them.
///
/// An empty or inverted range is not an error: it yields nothing.
///
/// ```
/// use backend_api::ScanRange;
/// let r = ScanRange::prefix("user:").reverse().limit(10);
/// assert!(r.contains(b"user:7"));
/// assert!(!r.contains(b"users"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanRange {
    /// Inclusive lower bound; `None` is open.
    pub start: Option<Bytes>,
    /// Exclusive upper bound; `None` is open.
    pub end: Option<Bytes>,
    /// Only keys starting with these bytes.
    pub prefix: Option<Bytes>,
    /// Descending order.
    pub reverse: bool,
    /// At most this many items.
    pub limit: Option<usize>,
    /// Yield keys with empty values.
    pub keys_only: bool,
}

impl ScanRange {
    /// Every key, ascending.
    pub fn all() -> Self {
        Self::default()
    }

    /// Keys starting with `prefix`.
    pub fn prefix(prefix: impl Into<Bytes>) -> Self {
        ScanRange {
            prefix: Some(prefix.into()),
            ..Self::default()
        }
    }

    /// Keys in `[start, end)`.
    pub fn between(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        Self::all().start(start).end(end)
    }

    /// Sets the inclusive lower bound.
    pub fn start(mut self, start: impl Into<Bytes>) -> Self {
        self.start = Some(start.into());
        self
    }

    /// Sets the exclusive upper bound.
    pub fn end(mut self, end: impl Into<Bytes>) -> Self {
        self.end = Some(end.into());
        self
    }

    /// Descending order.
    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// At most `limit` items.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Keys only: values come back empty.
    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    /// The effective inclusive lower bound: the greater of `start` and `prefix`.
    pub fn lower(&self) -> Option<Bytes> {
        match (&self.start, &self.prefix) {
            (Some(s), Some(p)) => Some(if s >= p { s.clone() } else { p.clone() }),
            (Some(b), None) | (None, Some(b)) => Some(b.clone()),
            (None, None) => None,
        }
    }

    /// The effective exclusive upper bound: the lesser of `end` and the first key
    /// after every key with `prefix` (none when the prefix is all `0xFF`).
    pub fn upper(&self) -> Option<Bytes> {
        let after_prefix = self.prefix.as_deref().and_then(prefix_successor);
        match (&self.end, after_prefix) {
            (Some(e), Some(p)) => Some(if *e <= p { e.clone() } else { p }),
            (Some(e), None) => Some(e.clone()),
            (None, p) => p,
        }
    }

    /// Bounds for ordered-map range calls (`BTreeMap::range` and kin). Check
    /// [`ScanRange::is_empty`] first: such calls panic on inverted bounds.
    pub fn bounds(&self) -> (Bound<Bytes>, Bound<Bytes>) {
        let lower = self.lower().map_or(Bound::Unbounded, Bound::Included);
        let upper = self.upper().map_or(Bound::Unbounded, Bound::Excluded);
        (lower, upper)
    }

    /// True when no key can match, or the limit is zero.
    pub fn is_empty(&self) -> bool {
        if self.limit == Some(0) {
            return true;
        }
        match (self.lower(), self.upper()) {
            (Some(l), Some(u)) => l >= u,
            _ => false,
        }
    }

    /// True when `key` lies in the range (ignoring order and limit).
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_deref().is_none_or(|s| key >= s)
            && self.end.as_deref().is_none_or(|e| key < e)
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
    }
}

/// One item of [`StorageBackend::scan_entries`](crate::StorageBackend::scan_entries):
/// a pair and the moment it expires.
///
/// `expires_at` is `None` for a key without a TTL. Otherwise it is the key's absolute
/// deadline on the wall clock of whatever holds it (this machine, or the server for a
/// remote backend), to within a millisecond of what the write asked for (`ttl` after
/// the write, or `PutOptions::expires_at`), clamped as the backend clamps deadlines
/// far in the future. It can be in the past only when the key expired while the
/// stream was being read; a reader that writes it elsewhere should skip such entries.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use backend_api::Entry;
/// let deadline = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
/// let entry = Entry::new("k", "v", Some(deadline));
/// assert!(!entry.is_expired_at(SystemTime::UNIX_EPOCH));
/// assert!(entry.is_expired_at(deadline));
/// assert_eq!(entry.into_pair(), ("k".into(), "v".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The key.
    pub key: Bytes,
    /// The value (empty under `keys_only`).
    pub value: Bytes,
    /// When the key expires; `None`: never.
    pub expires_at: Option<SystemTime>,
}

impl Entry {
    /// An entry from its parts.
    pub fn new(
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        expires_at: Option<SystemTime>,
    ) -> Self {
        Entry {
            key: key.into(),
            value: value.into(),
            expires_at,
        }
    }

    /// True when the key has a deadline and `now` has reached it.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|deadline| deadline <= now)
    }

    /// The `(key, value)` pair, as [`scan`](crate::StorageBackend::scan) yields it.
    pub fn into_pair(self) -> (Bytes, Bytes) {
        (self.key, self.value)
    }
}

/// The smallest key greater than every key that starts with `prefix`, or `None` when
/// no such key exists (the prefix is empty or all `0xFF`).
///
/// ```
/// use backend_api::prefix_successor;
/// assert_eq!(prefix_successor(b"ab").as_deref(), Some(&b"ac"[..]));
/// assert_eq!(prefix_successor(b"a\xff").as_deref(), Some(&b"b"[..]));
/// assert_eq!(prefix_successor(b"\xff\xff"), None);
/// ```
pub fn prefix_successor(prefix: &[u8]) -> Option<Bytes> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut next = prefix[..=last].to_vec();
    next[last] += 1;
    Some(next.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_bounds_intersect() {
        let r = ScanRange::prefix("b").start("a").end("bm");
        assert_eq!(r.lower().as_deref(), Some(&b"b"[..]));
        assert_eq!(r.upper().as_deref(), Some(&b"bm"[..]));
        let r = ScanRange::prefix("b").start("bz");
        assert_eq!(r.upper().as_deref(), Some(&b"c"[..]));
        assert!(!r.is_empty());
    }

    #[test]
    fn inverted_and_zero_limit_are_empty() {
        assert!(ScanRange::between("b", "a").is_empty());
        assert!(ScanRange::between("a", "a").is_empty());
        assert!(ScanRange::all().limit(0).is_empty());
        assert!(ScanRange::prefix("b").end("a").is_empty());
        assert!(!ScanRange::prefix(vec![0xFF]).is_empty());
    }

    #[test]
    fn contains_agrees_with_bounds() {
        let keys: Vec<&[u8]> = vec![b"", b"\x00", b"a", b"a\xff", b"a\xff\x00", b"b", b"\xff"];
        let ranges = [
            ScanRange::prefix(vec![b'a', 0xFF]),
            ScanRange::prefix(vec![0xFF]),
            ScanRange::between("a", "b"),
            ScanRange::prefix("a").end(vec![b'a', 0xFF]),
        ];
        for r in &ranges {
            let (lo, hi) = r.bounds();
            for k in &keys {
                let in_bounds = match &lo {
                    Bound::Included(l) => *k >= &l[..],
                    _ => true,
                } && match &hi {
                    Bound::Excluded(h) => *k < &h[..],
                    _ => true,
                };
                assert_eq!(in_bounds, r.contains(k), "{r:?} {k:?}");
            }
        }
    }
}
