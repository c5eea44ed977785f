//! The raw structures doing the same work as a backend: the baselines.
//!
//! Each owns copies of keys and values as `Bytes` (a put copies both, a get returns a
//! `Bytes` handle, a scan hands out `(Bytes, Bytes)` pairs), like the backends do.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Bound;

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;
use dashmap::DashMap;
use parking_lot::RwLock;

use crate::Workload;

/// The operations every baseline offers.
pub trait RawMap: Send + Sync {
    /// A name for reports.
    fn name(&self) -> &'static str;
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Option<Bytes>;
    /// Stores copies of `key` and `value`.
    fn put(&self, key: &[u8], value: &[u8]);
    /// Visits up to `n` pairs from `start` in key order; `None` if unordered.
    fn scan(&self, start: &[u8], n: usize) -> Option<usize>;
}

/// A `BTreeMap` behind a parking_lot `RwLock`: what backend-mem keeps per partition.
#[derive(Default)]
pub struct RwBTree(RwLock<BTreeMap<Bytes, Bytes>>);

impl RawMap for RwBTree {
    fn name(&self) -> &'static str {
        "rwlock_btreemap"
    }
    fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0.read().get(key).cloned()
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        let (k, v) = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        self.0.write().insert(k, v);
    }
    fn scan(&self, start: &[u8], n: usize) -> Option<usize> {
        let map = self.0.read();
        let mut count = 0;
        for (k, v) in map
            .range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
            .take(n)
        {
            black_box((k.clone(), v.clone()));
            count += 1;
        }
        Some(count)
    }
}

/// A lock-free ordered skiplist.
#[derive(Default)]
pub struct SkipList(SkipMap<Bytes, Bytes>);

impl RawMap for SkipList {
    fn name(&self) -> &'static str {
        "crossbeam_skipmap"
    }
    fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0.get(key).map(|e| e.value().clone())
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.0
            .insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
    }
    fn scan(&self, start: &[u8], n: usize) -> Option<usize> {
        let mut count = 0;
        for e in self
            .0
            .range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
            .take(n)
        {
            black_box((e.key().clone(), e.value().clone()));
            count += 1;
        }
        Some(count)
    }
}

/// A sharded concurrent hash map: the fastest point operations, no order.
#[derive(Default)]
pub struct Dash(DashMap<Bytes, Bytes>);

impl RawMap for Dash {
    fn name(&self) -> &'static str {
        "dashmap"
    }
    fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0.get(key).map(|v| v.value().clone())
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.0
            .insert(Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
    }
    fn scan(&self, _start: &[u8], _n: usize) -> Option<usize> {
        None
    }
}

/// Fills `map` with every pair of `workload`.
pub fn load(map: &dyn RawMap, workload: &Workload) {
    for (k, v) in workload.pairs() {
        map.put(k, v);
    }
}
