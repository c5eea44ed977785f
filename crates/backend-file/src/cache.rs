//! [`ValueCache`]: values read from disk, kept by the location of their record, within a
//! byte budget.
//!
//! # Why it never serves a stale value
//!
//! An entry is keyed by the record's location `(file id, offset)`, not by the user key.
//! Records are append-only and a file id is never reused while the store is open (a
//! merge writes new ids), so the bytes at a location never change. A get first looks the
//! key up in the keydir, then asks the cache for *that* location: after a put, delete,
//! range delete, partition drop or merge the keydir points elsewhere (or nowhere), and
//! the old location is never asked for again. A read that raced a write and fills the
//! old location afterwards therefore cannot be served either.
//!
//! On top of that the engine calls [`ValueCache::forget`] for every entry a write
//! replaces or removes, and [`ValueCache::forget_files`] for the files a merge retires,
//! so dead values do not hold the budget until evicted.
//!
//! Every value in the cache came from a read that checked the record's checksum; a
//! read that touches the disk always checks it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use quick_cache::Weighter;

use crate::keydir::Entry;

/// Bytes charged per cached value on top of its record length (key, slot, shard).
const OVERHEAD: u64 = 64;
/// A guess at the average charge, to size quick_cache's item table.
const AVERAGE_CHARGE: u64 = 1024;

/// Where a record lives.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Loc {
    file_id: u64,
    offset: u64,
}

impl Loc {
    fn of(e: &Entry) -> Loc {
        Loc {
            file_id: e.file_id,
            offset: e.offset,
        }
    }
}

/// A value and its charge (the record length it was read from).
#[derive(Clone, Debug)]
struct Cached {
    value: Bytes,
    charge: u32,
}

#[derive(Clone)]
struct Weigh;

impl Weighter<Loc, Cached> for Weigh {
    fn weight(&self, _: &Loc, v: &Cached) -> u64 {
        u64::from(v.charge) + OVERHEAD
    }
}

/// A byte-budgeted cache of checked values. See the module docs.
pub struct ValueCache {
    /// `None` when the budget is 0: every call is a no-op.
    entries: Option<quick_cache::sync::Cache<Loc, Cached, Weigh>>,
    /// False until the first insert (and again after `clear`): a write-only workload
    /// then pays no cache lookup per overwrite.
    filled: AtomicBool,
}

impl std::fmt::Debug for ValueCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (len, weight) = self
            .entries
            .as_ref()
            .map_or((0, 0), |c| (c.len(), c.weight()));
        f.debug_struct("ValueCache")
            .field("len", &len)
            .field("bytes", &weight)
            .finish()
    }
}

impl ValueCache {
    /// A cache holding up to `budget` bytes (record lengths plus a per-value overhead);
    /// 0 disables it.
    pub fn new(budget: u64) -> Self {
        let entries = (budget > 0).then(|| {
            let items = (budget / AVERAGE_CHARGE).clamp(16, 1 << 22) as usize;
            quick_cache::sync::Cache::with_weighter(items, budget, Weigh)
        });
        ValueCache {
            entries,
            filled: AtomicBool::new(false),
        }
    }

    /// The value of the record `e` points at, if cached.
    pub fn get(&self, e: &Entry) -> Option<Bytes> {
        self.entries.as_ref()?.get(&Loc::of(e)).map(|c| c.value)
    }

    /// Keeps `value`, read and checked from the record `e` points at.
    pub fn insert(&self, e: &Entry, value: Bytes) {
        if let Some(c) = &self.entries {
            if !self.filled.load(Ordering::Relaxed) {
                self.filled.store(true, Ordering::Relaxed);
            }
            c.insert(
                Loc::of(e),
                Cached {
                    value,
                    charge: e.len,
                },
            );
        }
    }

    /// Drops the value of the record `e` points at (the key was overwritten or removed).
    pub fn forget(&self, e: &Entry) {
        if !self.filled.load(Ordering::Relaxed) {
            return;
        }
        if let Some(c) = &self.entries {
            c.remove(&Loc::of(e));
        }
    }

    /// Drops every value read from the files `ids` (a merge retired them).
    pub fn forget_files(&self, ids: &HashSet<u64>) {
        if let Some(c) = &self.entries {
            c.retain(|loc, _| !ids.contains(&loc.file_id));
        }
    }

    /// Drops everything (the store is closing).
    pub fn clear(&self) {
        if let Some(c) = &self.entries {
            c.clear();
        }
    }

    /// Bytes charged to the values held now.
    pub fn bytes(&self) -> u64 {
        self.entries.as_ref().map_or(0, |c| c.weight())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn entry(file_id: u64, offset: u64, len: u32) -> Entry {
        Entry {
            file_id,
            offset,
            len,
            seq: offset,
            expiry: 0,
        }
    }

    #[test]
    fn zero_budget_caches_nothing() {
        let c = ValueCache::new(0);
        let e = entry(1, 16, 100);
        c.insert(&e, Bytes::from_static(b"v"));
        assert_eq!(c.get(&e), None);
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn budget_bounds_the_bytes_held() {
        let c = ValueCache::new(64 << 10);
        for i in 0..1000 {
            c.insert(&entry(1, i * 1000, 1000), Bytes::from(vec![0u8; 960]));
        }
        assert!(c.bytes() <= 64 << 10, "{} bytes held", c.bytes());
        assert!(c.bytes() > 0);
    }

    #[derive(Clone, Debug)]
    enum Cmd {
        Fill(u64, u64, u8),
        Forget(u64, u64),
        ForgetFile(u64),
        Get(u64, u64),
    }

    fn cmd() -> impl Strategy<Value = Cmd> {
        let loc = (0..3u64, 0..8u64);
        prop_oneof![
            loc.clone()
                .prop_flat_map(|(f, o)| any::<u8>().prop_map(move |v| Cmd::Fill(f, o, v))),
            loc.clone().prop_map(|(f, o)| Cmd::Forget(f, o)),
            (0..3u64).prop_map(Cmd::ForgetFile),
            loc.prop_map(|(f, o)| Cmd::Get(f, o)),
        ]
    }

    proptest! {
        /// With a budget nothing is evicted from, the cache answers exactly what a map
        /// of the same fills and forgets holds.
        #[test]
        fn cache_matches_a_btreemap(cmds in prop::collection::vec(cmd(), 0..200)) {
            let c = ValueCache::new(1 << 20);
            let mut model: BTreeMap<(u64, u64), Bytes> = BTreeMap::new();
            for cmd in cmds {
                match cmd {
                    Cmd::Fill(f, o, v) => {
                        let value = Bytes::from(vec![v; 3]);
                        c.insert(&entry(f, o, 43), value.clone());
                        model.insert((f, o), value);
                    }
                    Cmd::Forget(f, o) => {
                        c.forget(&entry(f, o, 43));
                        model.remove(&(f, o));
                    }
                    Cmd::ForgetFile(f) => {
                        c.forget_files(&HashSet::from([f]));
                        model.retain(|(file, _), _| *file != f);
                    }
                    Cmd::Get(f, o) => {
                        prop_assert_eq!(c.get(&entry(f, o, 43)), model.get(&(f, o)).cloned());
                    }
                }
            }
        }
    }
}
