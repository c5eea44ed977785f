//! [`KeyDir`]: the ordered map from key to [`Entry`], packed for RAM.
//!
//! Keys live in leaves of up to [`MAX_RECORDS`] records packed in one buffer each (see
//! [`leaf`](super::leaf)); an ordered map finds the leaf by its lower fence. Leaf `i`
//! holds the keys in `[fence_i, fence_{i+1})`; the first leaf's fence is the empty key,
//! so every key has exactly one leaf, and a fence never changes once set (removing a
//! leaf's first key leaves the fence below the new first key, which is still correct).
//! An empty leaf other than the first is dropped.
//!
//! About 30 bytes per 16-byte key plus slack, against some 140 for a
//! `BTreeMap<Bytes, Entry>`: no allocation per key, an entry in varints.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::Entry;
use super::leaf::{Leaf, MAX_RECORDS};

/// An ordered map from key bytes to [`Entry`]. See the module docs.
#[derive(Debug)]
pub struct KeyDir {
    leaves: BTreeMap<Box<[u8]>, Leaf>,
    len: usize,
}

impl Default for KeyDir {
    fn default() -> Self {
        let mut leaves = BTreeMap::new();
        leaves.insert(Box::default(), Leaf::default());
        KeyDir { leaves, len: 0 }
    }
}

/// False when no key can lie between `lo` and `hi`.
fn ordered(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
    }
}

impl KeyDir {
    /// Keys in the map.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the map holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fence of the leaf that holds (or would hold) `key`.
    fn fence_of(&self, key: &[u8]) -> &[u8] {
        self.leaves
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .map_or(&[][..], |(f, _)| f)
    }

    fn leaf_of(&self, key: &[u8]) -> &Leaf {
        let (_, leaf) = self
            .leaves
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .expect("the first leaf's fence is the empty key");
        leaf
    }

    fn leaf_of_mut<'m>(
        leaves: &'m mut BTreeMap<Box<[u8]>, Leaf>,
        key: &[u8],
    ) -> (&'m [u8], &'m mut Leaf) {
        let (fence, leaf) = leaves
            .range_mut::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .expect("the first leaf's fence is the empty key");
        (fence, leaf)
    }

    /// The entry of `key`.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        let leaf = self.leaf_of(key);
        leaf.search(key).ok().map(|i| leaf.entry(i))
    }

    /// Sets `key` to `e`; returns the entry it replaced.
    pub fn insert(&mut self, key: &[u8], e: Entry) -> Option<Entry> {
        self.insert_unless(key, e, |_| false)
    }

    /// Sets `key` to `e` unless `keep_old` answers true for the entry it holds (one
    /// search either way); returns the entry it replaced.
    pub fn insert_unless(
        &mut self,
        key: &[u8],
        e: Entry,
        keep_old: impl FnOnce(&Entry) -> bool,
    ) -> Option<Entry> {
        // Keys arriving in order (a load, a hint file written in key order) skip the
        // search: they go at the end of the last leaf.
        let tail = self
            .leaves
            .last_key_value()
            .is_some_and(|(_, l)| l.len() > 0 && l.key(l.len() - 1) < key);
        let leaf = if tail {
            self.leaves.values_mut().next_back()
        } else {
            None
        };
        let leaf = match leaf {
            Some(leaf) => leaf,
            None => Self::leaf_of_mut(&mut self.leaves, key).1,
        };
        let search = if tail {
            Err(leaf.len())
        } else {
            leaf.search(key)
        };
        let (i, found) = match search {
            Ok(i) if keep_old(&leaf.entry(i)) => return None,
            Ok(i) => (i, true),
            Err(i) => (i, false),
        };
        let old = leaf.put(i, found, key, &e);
        if found {
            return old;
        }
        self.len += 1;
        if leaf.len() > MAX_RECORDS {
            // Appending at a leaf's end (keys arriving in order) leaves the full part
            // behind nearly full; otherwise split in halves.
            let at = if i + 1 == leaf.len() {
                leaf.len() - leaf.len() / 16
            } else {
                leaf.len() / 2
            };
            let right = leaf.split_off(at);
            let fence: Box<[u8]> = right.key(0).into();
            self.leaves.insert(fence, right);
        }
        None
    }

    /// Sets each key of `items` (ascending; a key may repeat) to its entry unless
    /// `keep_old(old, new)` answers true for the entry it holds, like
    /// [`KeyDir::insert_unless`] one by one, but rebuilding each leaf the batch lands in
    /// once, in one merge pass, instead of shifting it once per key.
    pub fn insert_sorted<'k>(
        &mut self,
        items: impl IntoIterator<Item = (&'k [u8], Entry)>,
        keep_old: impl Fn(&Entry, &Entry) -> bool,
    ) {
        let mut items = items.into_iter().peekable();
        let mut scratch = Leaf::default();
        while let Some(&(first, _)) = items.peek() {
            let fence: Box<[u8]> = self.fence_of(first).into();
            let next: Option<Box<[u8]>> = self
                .leaves
                .range::<[u8], _>((Bound::Excluded(&fence[..]), Bound::Unbounded))
                .next()
                .map(|(f, _)| f.clone());
            if next.is_none() {
                // The last leaf: keys go in one by one, mostly by the append path, so
                // a long run (a first file into an empty map) needs no big scratch.
                for (k, e) in items {
                    self.insert_unless(k, e, |old| keep_old(old, &e));
                }
                return;
            }
            let Some(old) = self.leaves.get_mut(&fence[..]) else {
                return;
            };
            // Merge the leaf and the batch's keys below the next fence into `scratch`.
            scratch.clear();
            let mut i = 0;
            while let Some(&(k, e)) = items.peek() {
                if next.as_deref().is_some_and(|n| k >= n) {
                    break;
                }
                items.next();
                while i < old.len() && old.key(i) < k {
                    scratch.push_from(old, i);
                    i += 1;
                }
                if scratch.len() > 0 && scratch.key(scratch.len() - 1) == k {
                    // A repeat within the batch: the same rule against the one just put.
                    let l = scratch.len() - 1;
                    if !keep_old(&scratch.entry(l), &e) {
                        scratch.put(l, true, k, &e);
                    }
                } else if i < old.len() && old.key(i) == k {
                    if keep_old(&old.entry(i), &e) {
                        scratch.push_from(old, i);
                    } else {
                        scratch.push(k, &e);
                    }
                    i += 1;
                } else {
                    scratch.push(k, &e);
                    self.len += 1;
                }
            }
            while i < old.len() {
                scratch.push_from(old, i);
                i += 1;
            }
            // The leaf keeps its allocation and the first piece; a batch too big for it
            // goes on in new leaves seven-eighths full, so later inserts find room.
            let per = if scratch.len() > MAX_RECORDS {
                MAX_RECORDS * 7 / 8
            } else {
                MAX_RECORDS
            };
            old.assign(&scratch, 0..per.min(scratch.len()));
            let mut at = per;
            while at < scratch.len() {
                let end = (at + per).min(scratch.len());
                let mut piece = Leaf::default();
                piece.assign(&scratch, at..end);
                self.leaves.insert(piece.key(0).into(), piece);
                at = end;
            }
        }
    }

    /// Removes `key`; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (fence, leaf) = Self::leaf_of_mut(&mut self.leaves, key);
        let i = leaf.search(key).ok()?;
        let old = leaf.remove(i);
        self.len -= 1;
        if leaf.len() == 0 && !fence.is_empty() {
            let fence: Box<[u8]> = fence.into();
            self.leaves.remove(&fence);
        }
        Some(old)
    }

    /// The keys and entries inside `(lo, hi)`, in key order (reversible).
    pub fn range<'a>(
        &'a self,
        lo: Bound<&'a [u8]>,
        hi: Bound<&'a [u8]>,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], Entry)> + 'a {
        let leaves = ordered(lo, hi).then(|| {
            let first = match lo {
                Bound::Unbounded => &[][..],
                Bound::Included(k) | Bound::Excluded(k) => self.fence_of(k),
            };
            self.leaves
                .range::<[u8], _>((Bound::Included(first), hi))
                .map(|(_, leaf)| leaf)
        });
        leaves.into_iter().flatten().flat_map(move |leaf| {
            leaf.between(lo, hi)
                .map(move |i| (leaf.key(i), leaf.entry(i)))
        })
    }

    /// Every key and entry, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], Entry)> + '_ {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Every entry, in key order.
    pub fn values(&self) -> impl Iterator<Item = Entry> + '_ {
        self.iter().map(|(_, e)| e)
    }

    /// Removes the keys inside `(lo, hi)` for which `keep` answers false (it sees each
    /// key of the range once, in order). One pass per leaf, no key collected.
    pub fn retain_range(
        &mut self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        mut keep: impl FnMut(&[u8], Entry) -> bool,
    ) {
        if !ordered(lo, hi) {
            return;
        }
        let first: Box<[u8]> = match lo {
            Bound::Unbounded => Box::default(),
            Bound::Included(k) | Bound::Excluded(k) => self.fence_of(k).into(),
        };
        let mut removed = 0;
        let mut emptied = Vec::new();
        for (fence, leaf) in self
            .leaves
            .range_mut::<[u8], _>((Bound::Included(&first[..]), hi))
        {
            let span = leaf.between(lo, hi);
            let before = leaf.len();
            leaf.retain(span, &mut keep);
            removed += before - leaf.len();
            if leaf.len() == 0 && !fence.is_empty() {
                emptied.push(fence.clone());
            }
        }
        for fence in emptied {
            self.leaves.remove(&fence);
        }
        self.len -= removed;
    }

    /// Removes every key for which `keep` answers false.
    pub fn retain(&mut self, keep: impl FnMut(&[u8], Entry) -> bool) {
        self.retain_range(Bound::Unbounded, Bound::Unbounded, keep);
    }

    /// Moves every leaf into allocations of exactly its length: no spare capacity, and
    /// (done once open's temporaries are freed) the leaves fill the holes they left
    /// instead of pinning half-used pages. The room comes back as writes need it.
    pub fn shrink_to_fit(&mut self) {
        self.leaves.values_mut().for_each(Leaf::shrink_to_fit);
    }

    /// Heap bytes the map holds: leaf buffers at capacity, fences, and the ordered map's
    /// nodes (estimated at two thirds full).
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Box<[u8]>, Leaf)>();
        self.leaves
            .iter()
            .map(|(f, l)| f.len() + l.heap_bytes() + slot * 3 / 2)
            .sum()
    }
}
