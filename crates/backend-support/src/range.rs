//! Resuming a scan after the last key it yielded.

use std::ops::Bound;

use backend_api::{Bytes, ScanRange};

/// The bounds of what is left of `range` once `last` was yielded: for a forward scan
/// everything above `last`, for a reverse one everything below it, the other side
/// unchanged (prefix already folded in, as [`ScanRange::bounds`] does).
///
/// A scan that refills a buffer a chunk at a time under a lock resumes from these
/// bounds. They use `Bound::Excluded(last)`, so no "next key" is computed: nothing
/// overflows for keys ending in `0xFF` or of the maximum length, and a key written
/// between two chunks can never be yielded twice or out of order. Check
/// [`resumable`] before handing the bounds to `BTreeMap::range`, which panics on an
/// empty range with both ends excluded.
///
/// ```
/// use std::ops::Bound;
/// use backend_api::{Bytes, ScanRange};
/// let r = ScanRange::prefix("a").reverse();
/// let (lo, hi) = backend_support::resume_after(&r, b"a\xff");
/// assert_eq!(lo, Bound::Included(Bytes::from_static(b"a")));
/// assert_eq!(hi, Bound::Excluded(Bytes::from_static(b"a\xff")));
/// ```
pub fn resume_after(range: &ScanRange, last: &[u8]) -> (Bound<Bytes>, Bound<Bytes>) {
    let (lower, upper) = range.bounds();
    let last = Bound::Excluded(Bytes::copy_from_slice(last));
    if range.reverse {
        (lower, last)
    } else {
        (last, upper)
    }
}

/// True when some key can lie between `lower` and `upper` (so an ordered-map range
/// call with them is valid).
pub fn resumable(lower: &Bound<Bytes>, upper: &Bound<Bytes>) -> bool {
    match (lower, upper) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_forward_and_reverse_without_successors() {
        let r = ScanRange::between("a", "c");
        let (lo, hi) = resume_after(&r, b"b\xff\xff");
        assert_eq!(lo, Bound::Excluded(Bytes::from_static(b"b\xff\xff")));
        assert_eq!(hi, Bound::Excluded(Bytes::from_static(b"c")));
        assert!(resumable(&lo, &hi));
        let (lo, hi) = resume_after(&r.clone().reverse(), b"a");
        assert!(!resumable(&lo, &hi));
        let (lo, hi) = resume_after(&ScanRange::all(), b"x");
        assert!(resumable(&lo, &hi) && hi == Bound::Unbounded);
    }
}
