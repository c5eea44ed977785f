//! The in-RAM state: partitions, their ordered keydirs, and the open data files.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::files::Handle;
use crate::format::RECORD_HEADER_LEN;

mod leaf;
mod map;
#[cfg(test)]
mod tests;

pub use map::KeyDir;

/// `b` borrowed as a bound on key bytes.
pub fn as_slice(b: &Bound<Bytes>) -> Bound<&[u8]> {
    b.as_ref().map(|k| &k[..])
}

/// Where the newest record of a key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Data file id.
    pub file_id: u64,
    /// Offset of the record in that file.
    pub offset: u64,
    /// Length of the whole record.
    pub len: u32,
    /// The record's sequence number.
    pub seq: u64,
    /// Expiry in ms since the epoch, 0 = never.
    pub expiry: u64,
}

impl Entry {
    /// True once the entry's deadline has passed at `now` (ms).
    pub fn expired(&self, now: u64) -> bool {
        self.expiry != 0 && now >= self.expiry
    }

    /// Key plus value bytes of a record of this entry with `key_len`.
    pub fn user_bytes(&self) -> u64 {
        u64::from(self.len) - RECORD_HEADER_LEN as u64
    }
}

/// One partition.
#[derive(Debug, Default)]
pub struct PartState {
    /// Its id in the log (never reused).
    pub id: u32,
    /// Sequence number of its create record.
    pub create_seq: u64,
    /// Newest record of every key, in key order. Changed only through the methods
    /// below, which keep the counters right.
    keys: KeyDir,
    /// Sum of key + value bytes of the entries.
    pub user_bytes: u64,
    /// Entries with an expiry (so `len` knows whether it must count).
    pub expiring: u64,
}

impl PartState {
    /// Partition `id` created at `create_seq`, holding `keys`.
    pub fn new(id: u32, create_seq: u64, keys: KeyDir) -> Self {
        let mut p = PartState {
            id,
            create_seq,
            ..PartState::default()
        };
        for e in keys.values() {
            p.count(&e);
        }
        p.keys = keys;
        p
    }

    /// The keydir (read only).
    pub fn keys(&self) -> &KeyDir {
        &self.keys
    }

    /// Inserts or replaces `key`; returns the replaced entry.
    pub fn insert(&mut self, key: &[u8], e: Entry) -> Option<Entry> {
        self.count(&e);
        let old = self.keys.insert(key, e);
        if let Some(o) = &old {
            self.forget(o);
        }
        old
    }

    /// Removes `key`; returns the removed entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.keys.remove(key);
        if let Some(o) = &old {
            self.forget(o);
        }
        old
    }

    /// Removes every key inside `(lo, hi)`, handing each removed entry to `removed`.
    pub fn remove_range(
        &mut self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        mut removed: impl FnMut(&Entry),
    ) {
        let (mut bytes, mut expiring) = (0, 0);
        self.keys.retain_range(lo, hi, |_, e| {
            bytes += e.user_bytes();
            expiring += u64::from(e.expiry != 0);
            removed(&e);
            false
        });
        self.user_bytes -= bytes;
        self.expiring -= expiring;
    }

    fn count(&mut self, e: &Entry) {
        self.user_bytes += e.user_bytes();
        if e.expiry != 0 {
            self.expiring += 1;
        }
    }

    fn forget(&mut self, o: &Entry) {
        self.user_bytes -= o.user_bytes();
        if o.expiry != 0 {
            self.expiring -= 1;
        }
    }

    /// Live (unexpired) keys at `now`.
    pub fn live_len(&self, now: u64) -> u64 {
        if self.expiring == 0 || self.keys.is_empty() {
            return self.keys.len() as u64;
        }
        self.keys.values().filter(|e| !e.expired(now)).count() as u64
    }
}

/// Everything readers look at, behind one lock.
#[derive(Debug, Default)]
pub struct State {
    /// Partitions by name.
    pub parts: BTreeMap<String, PartState>,
    /// Readable data files by id (a handful: an ordered map beats hashing the id).
    pub files: BTreeMap<u64, Arc<Handle>>,
    /// Bytes in each data file.
    pub sizes: BTreeMap<u64, u64>,
    /// Sum of `sizes`.
    pub total_bytes: u64,
    /// Sum of record lengths the keydirs point at.
    pub live_bytes: u64,
}

impl State {
    /// The partition `name` if it still has id `id`.
    pub fn part_by_id(&self, name: &str, id: u32) -> Option<&PartState> {
        self.parts.get(name).filter(|p| p.id == id)
    }

    /// Records that `bytes` were appended to file `file_id`.
    pub fn grew(&mut self, file_id: u64, bytes: u64) {
        *self.sizes.entry(file_id).or_default() += bytes;
        self.total_bytes += bytes;
    }

    /// Bytes not pointed at by any keydir entry.
    pub fn dead_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.live_bytes)
    }

    /// Heap bytes of all the keydirs.
    pub fn keydir_bytes(&self) -> usize {
        self.parts.values().map(|p| p.keys.heap_bytes()).sum()
    }
}
