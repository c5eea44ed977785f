//! Newest record per key, range tombstones and the partition catalog, gathered file by
//! file in any order and turned into the keydir at the end (highest sequence number
//! wins, whatever the file order).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use backend_api::KeyRange;
use bytes::Bytes;

use crate::format::{Kind, decode_range};
use crate::hint::Hint;
use crate::keydir::{Entry, KeyDir, PartState, as_slice};

/// The length a delete's entry is staged with: no record is that short, so it marks a
/// tombstone until the end of recovery, in the same compact map as the puts.
const TOMBSTONE: u32 = 0;

/// One record as a scan of a data file sees it.
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
    /// key order, each partition's as one sorted stream ([`KeyDir::insert_sorted`]: each
    /// leaf rebuilt once), instead of one at a time at random places; the order of
    /// application does not matter, the highest sequence number wins. Sorted on an
    /// 8-byte prefix first, so the sort rarely decodes a key. Besides the hint itself,
    /// this holds 16 bytes per entry (the order) and nothing per key.
    pub fn apply_hint(&mut self, hint: &Hint, file_id: u64) {
        let seen = |i: usize| {
            let h = hint.entry(i);
            let entry = Entry {
                file_id,
                offset: h.offset,
                len: h.len,
                seq: h.seq,
                expiry: h.expiry,
            };
            (h, entry)
        };
        let is_key = |kind: Kind| matches!(kind, Kind::Put | Kind::Delete);
        let mut order: Vec<(u32, u64, u32)> = Vec::with_capacity(hint.len());
        for i in 0..hint.len() {
            let (h, entry) = seen(i);
            if !is_key(h.kind) {
                self.apply_record(h.kind, h.partition, h.key, entry);
                continue;
            }
            self.max_seq = self.max_seq.max(h.seq);
            self.max_pid = self.max_pid.max(h.partition);
            let mut p = [0u8; 8];
            let n = h.key.len().min(8);
            p[..n].copy_from_slice(&h.key[..n]);
            order.push((h.partition, u64::from_be_bytes(p), i as u32));
        }
        let key_of = |o: &(u32, u64, u32)| (o.0, hint.entry(o.2 as usize).key);
        if !order.windows(2).all(|w| key_of(&w[0]) <= key_of(&w[1])) {
            order.sort_unstable_by(|a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| key_of(a).cmp(&key_of(b)))
            });
        }
        for run in order.chunk_by(|a, b| a.0 == b.0) {
            let items = run.iter().map(|o| {
                let (h, mut e) = seen(o.2 as usize);
                if h.kind == Kind::Delete {
                    e.len = TOMBSTONE;
                }
                (h.key, e)
            });
            let map = self.keys.entry(run[0].0).or_default();
            map.insert_sorted(items, |old, new| old.seq >= new.seq);
        }
    }

    /// Applies one record read by a scan.
    pub fn apply(&mut self, s: Seen) {
        self.apply_record(s.kind, s.partition, &s.key, s.entry);
    }

    /// Applies one record of `kind` in `partition`, now at `entry`.
    fn apply_record(&mut self, kind: Kind, partition: u32, key: &[u8], entry: Entry) {
        self.max_seq = self.max_seq.max(entry.seq);
        self.max_pid = self.max_pid.max(partition);
        match kind {
            Kind::Put | Kind::Delete => {
                let mut e = entry;
                if kind == Kind::Delete {
                    e.len = TOMBSTONE;
                }
                let map = self.keys.entry(partition).or_default();
                map.insert_unless(key, e, |old| old.seq >= e.seq);
            }
            Kind::CreatePartition => {
                let name = String::from_utf8_lossy(key).into_owned();
                self.creates.insert(partition, (name, entry.seq));
            }
            Kind::DropPartition => {
                self.drops.insert(partition);
            }
            Kind::DeleteRange => {
                // Checked when read (scan or hint); a record that fails is never here.
                if let Ok(range) = decode_range(key, self.max_key_len) {
                    let ranges = self.ranges.entry(partition).or_default();
                    ranges.push((range, entry.seq));
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
            keys.shrink_to_fit();
            parts.insert(name, PartState::new(pid, create_seq, keys));
        }
        parts
    }
}
