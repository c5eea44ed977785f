//! Raw in-memory engines: an ordered map behind a lock (what backend-mem keeps per
//! partition) and a sharded hash map (the fastest point operations, no order).

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::RwLock;

use crate::subject::{Spec, Subject, consume};

/// `RwLock<BTreeMap<Bytes, Bytes>>`: the baseline of backend-mem.
#[derive(Default)]
pub struct RawBtree(RwLock<BTreeMap<Bytes, Bytes>>);

impl Subject for RawBtree {
    async fn open(_spec: &Spec) -> Self {
        RawBtree::default()
    }

    fn name(&self) -> &'static str {
        "raw_btree"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0.read().get(key).cloned()
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        let (k, v) = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        self.0.write().insert(k, v);
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        let map = self.0.read();
        consume(keys.iter().filter_map(|k| map.get(k).cloned()))
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: usize, reverse: bool) -> usize {
        let map = self.0.read();
        let range = map.range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        let visit = |(k, v): (&Bytes, &Bytes)| (k.clone(), v.clone());
        if reverse {
            consume(range.rev().take(limit).map(visit))
        } else {
            consume(range.take(limit).map(visit))
        }
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        let copies: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)))
            .collect();
        let mut map = self.0.write();
        map.extend(copies);
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        let new = Bytes::copy_from_slice(new);
        let mut map = self.0.write();
        if map.get(key).map(|v| &v[..]) != expected {
            return false;
        }
        map.insert(Bytes::copy_from_slice(key), new);
        true
    }

    async fn conditional_batch(
        &self,
        checks: &[(Bytes, Bytes)],
        writes: &[(Bytes, Bytes)],
    ) -> bool {
        let copies: Vec<_> = writes
            .iter()
            .map(|(k, v)| (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)))
            .collect();
        let mut map = self.0.write();
        if checks.iter().any(|(k, v)| map.get(k) != Some(v)) {
            return false;
        }
        map.extend(copies);
        true
    }

    async fn delete_range(&self, start: &[u8], end: &[u8]) {
        let mut map = self.0.write();
        let doomed: Vec<Bytes> = map
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            map.remove(&k);
        }
    }

    async fn close(&self) {}
}

/// `DashMap<Bytes, Bytes>`: point operations only (scans are skipped, see
/// the workload table, [`crate::table`]).
#[derive(Default)]
pub struct RawDash(DashMap<Bytes, Bytes>);

impl Subject for RawDash {
    async fn open(_spec: &Spec) -> Self {
        RawDash::default()
    }

    fn name(&self) -> &'static str {
        "raw_dash"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0.get(key).map(|v| v.value().clone())
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        self.0
            .insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        consume(
            keys.iter()
                .filter_map(|k| self.0.get(k).map(|v| v.value().clone())),
        )
    }

    async fn scan(&self, _start: &[u8], _end: &[u8], _limit: usize, _reverse: bool) -> usize {
        0
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        for (k, v) in pairs {
            self.0
                .insert(Bytes::copy_from_slice(k), Bytes::copy_from_slice(v));
        }
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        use dashmap::mapref::entry::Entry;
        match self.0.entry(Bytes::copy_from_slice(key)) {
            Entry::Occupied(mut e) if Some(&e.get()[..]) == expected => {
                e.insert(Bytes::copy_from_slice(new));
                true
            }
            Entry::Vacant(e) if expected.is_none() => {
                e.insert(Bytes::copy_from_slice(new));
                true
            }
            _ => false,
        }
    }

    async fn conditional_batch(
        &self,
        _checks: &[(Bytes, Bytes)],
        _writes: &[(Bytes, Bytes)],
    ) -> bool {
        unreachable!("the workload table skips multi-key conditions on raw_dash")
    }

    async fn delete_range(&self, _start: &[u8], _end: &[u8]) {
        unreachable!("the workload table skips range deletes on raw_dash")
    }

    async fn close(&self) {}
}
