//! One leaf of the compact keydir: a run of key-ordered records packed in one byte
//! buffer, with the end offset of each record beside it.
//!
//! A record is `varint(key_len) key varint(file_id) varint(offset) varint(len)
//! varint(seq) varint(expiry)` (LEB128 varints): a 16-byte key with its entry takes about
//! 30 bytes plus the 4-byte end offset, and no allocation of its own. Only this crate's
//! own encoder writes the buffer, so decoding never meets foreign bytes.

use std::ops::{Bound, Range};

use super::Entry;

/// Records a leaf holds before it splits.
pub(super) const MAX_RECORDS: usize = 128;

/// A key-ordered run of records.
#[derive(Debug, Default)]
pub(super) struct Leaf {
    /// End offset in `buf` of each record; record `i` starts where `i - 1` ends.
    ends: Vec<u32>,
    buf: Vec<u8>,
}

/// Longest varint of a `u64`.
const VARINT_MAX: usize = 10;

/// Writes `v` as a varint at the start of `out`; returns its length.
fn put_varint(out: &mut [u8], mut v: u64) -> usize {
    let mut n = 0;
    while v >= 0x80 {
        out[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Encodes `e` (the part of a record after the key) into `out`; returns its length.
fn put_entry(out: &mut [u8; 5 * VARINT_MAX], e: &Entry) -> usize {
    let mut n = 0;
    for v in [e.file_id, e.offset, u64::from(e.len), e.seq, e.expiry] {
        n += put_varint(&mut out[n..], v);
    }
    n
}

/// Grows `v` so `more` elements fit, by at least an eighth: small steps keep the unused
/// capacity of a leaf low, and a leaf is small enough that copying it on growth is cheap.
fn reserve<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(more.max(v.len() / 8 + 4));
    }
}

impl Leaf {
    /// Records in the leaf.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] as usize }
    }

    /// Byte range of record `i`'s key, and where its entry starts.
    fn key_span(&self, i: usize) -> (usize, usize) {
        let mut at = self.start(i);
        let klen = get_varint(&self.buf, &mut at) as usize;
        (at, at + klen)
    }

    /// The key of record `i`.
    pub(super) fn key(&self, i: usize) -> &[u8] {
        let (a, b) = self.key_span(i);
        &self.buf[a..b]
    }

    /// The entry of record `i`.
    pub(super) fn entry(&self, i: usize) -> Entry {
        let mut at = self.key_span(i).1;
        let b = &self.buf;
        Entry {
            file_id: get_varint(b, &mut at),
            offset: get_varint(b, &mut at),
            len: get_varint(b, &mut at) as u32,
            seq: get_varint(b, &mut at),
            expiry: get_varint(b, &mut at),
        }
    }

    /// `Ok(i)`: record `i` holds `key`; `Err(i)`: `key` would go at `i`.
    pub(super) fn search(&self, key: &[u8]) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Index range of the records inside `(lo, hi)`.
    pub(super) fn between(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Range<usize> {
        let a = match lo {
            Bound::Unbounded => 0,
            Bound::Included(k) => self.search(k).unwrap_or_else(|i| i),
            Bound::Excluded(k) => self.search(k).map_or_else(|i| i, |i| i + 1),
        };
        let b = match hi {
            Bound::Unbounded => self.len(),
            Bound::Included(k) => self.search(k).map_or_else(|i| i, |i| i + 1),
            Bound::Excluded(k) => self.search(k).unwrap_or_else(|i| i),
        };
        a..b.max(a)
    }

    /// Makes records `at..at + removed` into `lens.len()` records of `lens` bytes (left
    /// for the caller to fill), shifting the bytes and end offsets after them. Returns
    /// where the first new record starts.
    fn resize_span(&mut self, at: usize, removed: usize, lens: &[u32]) -> usize {
        let start = self.start(at);
        let end = self.start(at + removed);
        let new: usize = lens.iter().map(|&l| l as usize).sum();
        let len = self.buf.len();
        if new > end - start {
            let grow = new - (end - start);
            reserve(&mut self.buf, grow);
            self.buf.resize(len + grow, 0);
            self.buf.copy_within(end..len, end + grow);
        } else if new < end - start {
            self.buf.copy_within(end..len, start + new);
            self.buf.truncate(len - (end - start - new));
        }
        let delta = new as i64 - (end - start) as i64;
        let mut pos = start as u32;
        let keep = removed.min(lens.len());
        for (k, l) in lens.iter().enumerate() {
            pos += l;
            if k < keep {
                self.ends[at + k] = pos;
            } else {
                reserve(&mut self.ends, 1);
                self.ends.insert(at + k, pos);
            }
        }
        if removed > lens.len() {
            self.ends.drain(at + lens.len()..at + removed);
        }
        if delta != 0 {
            for e in &mut self.ends[at + lens.len()..] {
                *e = (i64::from(*e) + delta) as u32;
            }
        }
        start
    }

    /// Puts `key` = `e` at `i` (as [`Leaf::search`] said), replacing the record there if
    /// `replace`. Returns the replaced entry.
    pub(super) fn put(&mut self, i: usize, replace: bool, key: &[u8], e: &Entry) -> Option<Entry> {
        let old = replace.then(|| self.entry(i));
        let mut head = [0u8; VARINT_MAX];
        let hl = put_varint(&mut head, key.len() as u64);
        let mut tail = [0u8; 5 * VARINT_MAX];
        let tl = put_entry(&mut tail, e);
        let len = hl + key.len() + tl;
        let at = self.resize_span(i, usize::from(replace), &[len as u32]);
        let rec = &mut self.buf[at..at + len];
        rec[..hl].copy_from_slice(&head[..hl]);
        rec[hl..hl + key.len()].copy_from_slice(key);
        rec[hl + key.len()..].copy_from_slice(&tail[..tl]);
        old
    }

    /// Removes record `i`, returning its entry.
    pub(super) fn remove(&mut self, i: usize) -> Entry {
        let old = self.entry(i);
        self.resize_span(i, 1, &[]);
        self.shrink();
        old
    }

    /// Keeps the records of `span` for which `keep` answers true.
    pub(super) fn retain(
        &mut self,
        span: Range<usize>,
        keep: &mut dyn FnMut(&[u8], Entry) -> bool,
    ) {
        let mut bytes = Vec::new();
        let mut lens = Vec::new();
        for i in span.clone() {
            if keep(self.key(i), self.entry(i)) {
                let (a, b) = (self.start(i), self.ends[i] as usize);
                bytes.extend_from_slice(&self.buf[a..b]);
                lens.push((b - a) as u32);
            }
        }
        if lens.len() < span.len() {
            let at = self.resize_span(span.start, span.len(), &lens);
            self.buf[at..at + bytes.len()].copy_from_slice(&bytes);
            self.shrink();
        }
    }

    /// Empties the leaf, keeping its allocation.
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Makes this leaf hold records `span` of `from`, in the allocation it has (grown
    /// if needed): rebuilding leaves in place keeps the heap from fragmenting.
    pub(super) fn assign(&mut self, from: &Leaf, span: Range<usize>) {
        self.clear();
        let (a, b) = (from.start(span.start), from.start(span.end));
        reserve(&mut self.buf, b - a);
        self.buf.extend_from_slice(&from.buf[a..b]);
        reserve(&mut self.ends, span.len());
        let base = a as u32;
        self.ends.extend(from.ends[span].iter().map(|e| e - base));
        self.shrink();
    }

    /// Appends record `i` of `from` as it is (keys must stay in order).
    pub(super) fn push_from(&mut self, from: &Leaf, i: usize) {
        let rec = &from.buf[from.start(i)..from.ends[i] as usize];
        reserve(&mut self.buf, rec.len());
        self.buf.extend_from_slice(rec);
        reserve(&mut self.ends, 1);
        self.ends.push(self.buf.len() as u32);
    }

    /// Appends `key` = `e` (keys must stay in order).
    pub(super) fn push(&mut self, key: &[u8], e: &Entry) {
        let i = self.len();
        self.put(i, false, key, e);
    }

    /// Moves records `at..` into a new leaf.
    pub(super) fn split_off(&mut self, at: usize) -> Leaf {
        let start = self.start(at);
        let mut right = Leaf {
            ends: Vec::with_capacity(self.len() - at + 4),
            buf: Vec::with_capacity(self.buf.len() - start + 64),
        };
        right.buf.extend_from_slice(&self.buf[start..]);
        right
            .ends
            .extend(self.ends[at..].iter().map(|e| e - start as u32));
        self.buf.truncate(start);
        self.ends.truncate(at);
        self.shrink();
        right
    }

    /// Gives back capacity once a leaf holds well under what it has room for.
    fn shrink(&mut self) {
        if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 8 + 16);
            self.ends
                .shrink_to(self.ends.len() + self.ends.len() / 8 + 2);
        }
    }

    /// Moves the leaf into new allocations of exactly its length.
    pub(super) fn shrink_to_fit(&mut self) {
        self.buf = self.buf.as_slice().to_vec();
        self.ends = self.ends.as_slice().to_vec();
    }

    /// Heap bytes the leaf holds (capacity, not length).
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity() + 4 * self.ends.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: u64) -> Entry {
        Entry {
            file_id: n,
            offset: n * 1000,
            len: 40 + n as u32,
            seq: u64::MAX - n,
            expiry: if n.is_multiple_of(2) { 0 } else { n << 40 },
        }
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut b = [0u8; VARINT_MAX];
            let n = put_varint(&mut b, v);
            let mut at = 0;
            assert_eq!(get_varint(&b, &mut at), v);
            assert_eq!(at, n);
        }
    }

    #[test]
    fn put_replace_remove_split_keep_order_and_entries() {
        let mut l = Leaf::default();
        for n in [5u64, 1, 9, 3, 7] {
            let k = format!("k{n}");
            let i = l.search(k.as_bytes()).unwrap_err();
            assert_eq!(l.put(i, false, k.as_bytes(), &e(n)), None);
        }
        let keys: Vec<&[u8]> = (0..l.len()).map(|i| l.key(i)).collect();
        assert_eq!(keys, [&b"k1"[..], b"k3", b"k5", b"k7", b"k9"]);
        // A replacement with a longer encoding shifts the records after it.
        let i = l.search(b"k3").unwrap();
        assert_eq!(l.put(i, true, b"k3", &e(300)), Some(e(3)));
        assert_eq!(l.entry(i), e(300));
        assert_eq!(l.entry(i + 1), e(5));
        assert_eq!(l.remove(0), e(1));
        let right = l.split_off(2);
        assert_eq!((l.len(), right.len()), (2, 2));
        assert_eq!((right.key(0), right.entry(1)), (&b"k7"[..], e(9)));
        assert_eq!(l.between(Bound::Excluded(b"k3"), Bound::Unbounded), 1..2);
    }
}
