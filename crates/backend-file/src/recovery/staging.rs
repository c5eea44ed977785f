//! Newest record per key, range tombstones and the partition catalog, gathered file by
//! file in any order and turned into the keydir at the end (highest sequence number
//! wins, whatever the file order).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use backend_api::KeyRange;
use bytes::Bytes;

use crate::format::{Kind, decode_range};
use crate::keydir::{Entry, KeyDir, PartState, as_slice};

/// The length a delete's entry is staged with: no record is that short, so it marks a
/// tombstone until the end of recovery, in the same compact map as the puts.
const TOMBSTONE: u32 = 0;

/// One record as recovery sees it.
pub(super) struct Seen {
    pub kind: Kind,
    pub partition: u32,
    pub key: Bytes,
    pub entry: Entry,
}

/// Newest record per key, range tombstones and the partition catalog, built file by
/// file in any order.
#[derive(Default)]
pub(super) struct Staging {
    /// Newest record per key per partition id; deletes staged with length
    /// [`TOMBSTONE`]. Built in the keydir's own compact map, which becomes the
    /// partition's keydir at the end: no second copy of the keys.
    keys: HashMap<u32, KeyDir>,
    /// Range tombstones per partition id, with their sequence numbers.
    ranges: HashMap<u32, Vec<(KeyRange, u64)>>,
    creates: HashMap<u32, (String, u64)>,
    drops: BTreeSet<u32>,
    pub max_seq: u64,
    pub max_pid: u32,
    max_key_len: usize,
}

impl Staging {
    /// Empty, for keys up to `max_key_len` bytes.
    pub fn new(max_key_len: usize) -> Self {
        Staging {
            max_key_len,
            ..Staging::default()
        }
    }

    /// Applies every record of one file's hint. Puts and deletes go into the keydir in
    /// key order, each partition's as one sorted batch ([`KeyDir::insert_sorted`]: each
    /// leaf rebuilt once), instead of one at a time at random places; the order of
    /// application does not matter, the highest sequence number wins. Sorted on an
    /// 8-byte prefix first, so the sort rarely follows a key's pointer.
    pub fn apply_all(&mut self, seen: Vec<Seen>) {
        let is_key = |s: &Seen| matches!(s.kind, Kind::Put | Kind::Delete);
        for s in seen.iter().filter(|s| !is_key(s)) {
            self.apply_ref(s);
        }
        let mut order: Vec<(u32, u64, u32)> = seen
            .iter()
            .enumerate()
            .filter(|(_, s)| is_key(s))
            .map(|(i, s)| {
                let mut p = [0u8; 8];
                let n = s.key.len().min(8);
                p[..n].copy_from_slice(&s.key[..n]);
                (s.partition, u64::from_be_bytes(p), i as u32)
            })
            .collect();
        let key_of = |o: &(u32, u64, u32)| (o.0, &seen[o.2 as usize].key);
        if !order.windows(2).all(|w| key_of(&w[0]) <= key_of(&w[1])) {
            order.sort_unstable_by(|a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| seen[a.2 as usize].key.cmp(&seen[b.2 as usize].key))
            });
        }
        for run in order.chunk_by(|a, b| a.0 == b.0) {
            let items = run.iter().map(|o| {
                let s = &seen[o.2 as usize];
                self.max_seq = self.max_seq.max(s.entry.seq);
                self.max_pid = self.max_pid.max(s.partition);
                let mut e = s.entry;
                if s.kind == Kind::Delete {
                    e.len = TOMBSTONE;
                }
                (&s.key[..], e)
            });
            let items: Vec<(&[u8], Entry)> = items.collect();
            let map = self.keys.entry(run[0].0).or_default();
            map.insert_sorted(items, |old, new| old.seq >= new.seq);
        }
    }

    pub fn apply(&mut self, s: Seen) {
        self.apply_ref(&s);
    }

    fn apply_ref(&mut self, s: &Seen) {
        self.max_seq = self.max_seq.max(s.entry.seq);
        self.max_pid = self.max_pid.max(s.partition);
        match s.kind {
            Kind::Put | Kind::Delete => {
                let mut e = s.entry;
                if s.kind == Kind::Delete {
                    e.len = TOMBSTONE;
                }
                let map = self.keys.entry(s.partition).or_default();
                map.insert_unless(&s.key, e, |old| old.seq >= e.seq);
            }
            Kind::CreatePartition => {
                let name = String::from_utf8_lossy(&s.key).into_owned();
                self.creates.insert(s.partition, (name, s.entry.seq));
            }
            Kind::DropPartition => {
                self.drops.insert(s.partition);
            }
            Kind::DeleteRange => {
                // Checked when read (scan or hint); a record that fails is never here.
                if let Ok(range) = decode_range(&s.key, self.max_key_len) {
                    let ranges = self.ranges.entry(s.partition).or_default();
                    ranges.push((range, s.entry.seq));
                }
            }
        }
    }

    pub fn into_parts(mut self) -> BTreeMap<String, PartState> {
        let mut parts: BTreeMap<String, PartState> = BTreeMap::new();
        for (pid, (name, create_seq)) in self.creates {
            if self.drops.contains(&pid) || backend_api::Partition::parse(&name).is_err() {
                continue;
            }
            if parts.get(&name).is_some_and(|p| p.create_seq > create_seq) {
                continue;
            }
            let mut keys = self.keys.remove(&pid).unwrap_or_default();
            // A range tombstone hides every key of its range whose newest record is
            // older than it; newer records (later in the same batch, or after) stay.
            // A hidden key is removed at once, so no later tombstone visits it again.
            for (range, seq) in self.ranges.remove(&pid).unwrap_or_default() {
                let (lo, hi) = range.bounds();
                keys.retain_range(as_slice(&lo), as_slice(&hi), |_, e| e.seq >= seq);
            }
            keys.retain(|_, e| e.len != TOMBSTONE);
            parts.insert(name, PartState::new(pid, create_seq, keys));
        }
        parts
    }
}
