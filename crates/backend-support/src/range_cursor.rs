//! A cursor that walks the keys of a [`KeyRange`] in an ordered map in bounded memory,
//! for range deletes (and recovery's range tombstones) over a map the caller changes
//! between steps.

use std::collections::BTreeMap;
use std::ops::Bound;

use backend_api::{Bytes, KeyRange};

/// Walks the keys of `range` in a `BTreeMap<Bytes, V>` that the caller may change
/// between steps (typically: remove the key just returned), one O(log n) seek per key,
/// holding only the last key seen. This is how a range delete runs in bounded memory
/// whatever the range's size: no list of its keys is ever collected.
#[derive(Clone, Debug)]
pub struct RangeCursor {
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    done: bool,
}

impl RangeCursor {
    /// A cursor at the start of `range` (an empty or inverted range yields nothing).
    pub fn new(range: &KeyRange) -> Self {
        let (lower, upper) = range.bounds();
        RangeCursor {
            lower,
            upper,
            done: range.is_empty(),
        }
    }

    /// The next key of the range present in `map`, in ascending order, after every key
    /// returned before (whether or not the caller removed it since).
    pub fn next_key<V>(&mut self, map: &BTreeMap<Bytes, V>) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let lower = as_slice(&self.lower);
        let upper = as_slice(&self.upper);
        match map.range::<[u8], _>((lower, upper)).next() {
            Some((key, _)) => {
                let key = key.clone();
                self.lower = Bound::Excluded(key.clone());
                Some(key)
            }
            None => {
                self.done = true;
                None
            }
        }
    }
}

fn as_slice(bound: &Bound<Bytes>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(b) => Bound::Included(&b[..]),
        Bound::Excluded(b) => Bound::Excluded(&b[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_visits_the_range_while_keys_are_removed() {
        let mut map: BTreeMap<Bytes, u8> = (b'a'..=b'f')
            .map(|c| (Bytes::copy_from_slice(&[c]), c))
            .collect();
        let mut cursor = RangeCursor::new(&KeyRange::between("b", "e"));
        let mut seen = Vec::new();
        while let Some(key) = cursor.next_key(&map) {
            map.remove(&key);
            seen.push(key);
        }
        assert_eq!(
            seen,
            vec![Bytes::from("b"), Bytes::from("c"), Bytes::from("d")]
        );
        assert_eq!(map.len(), 3);
        assert!(
            RangeCursor::new(&KeyRange::between("e", "b"))
                .next_key(&map)
                .is_none()
        );
        let mut all = RangeCursor::new(&KeyRange::all());
        assert_eq!(all.next_key(&map), Some(Bytes::from("a")));
        assert_eq!(all.next_key(&map), Some(Bytes::from("e")));
    }
}
