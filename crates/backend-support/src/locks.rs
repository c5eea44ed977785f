//! Striped per-key write locks.
//!
//! Every write to a key holds that key's stripe from before the engine write until its
//! watch event is published, so events of one key are published in commit order. A
//! batch takes all its stripes in ascending order, so two writers never deadlock.

use std::hash::Hasher;

use backend_api::Partition;
use parking_lot::{Mutex, MutexGuard};

use crate::NameHasher;

/// Number of stripes; a power of two.
const STRIPES: usize = 1024;

/// A fixed set of mutexes, one chosen per `(partition, key)` by hash.
pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
}

impl KeyLocks {
    /// A table of 1024 unlocked stripes.
    pub fn new() -> Self {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    fn stripe(partition: &Partition, key: &[u8]) -> usize {
        // FNV-1a: short keys, no allocation, good enough spread for lock striping. 0xFF
        // never occurs in a partition name, so it separates name and key.
        let mut hasher = NameHasher::default();
        hasher.write(partition.name().as_bytes());
        hasher.write(&[0xFF]);
        hasher.write(key);
        let hash = hasher.finish();
        (hash ^ (hash >> 29)) as usize & (STRIPES - 1)
    }

    /// Locks the stripe of one key.
    pub fn lock(&self, partition: &Partition, key: &[u8]) -> MutexGuard<'_, ()> {
        self.stripes[Self::stripe(partition, key)].lock()
    }

    /// Locks the stripes of every `(partition, key)`, in ascending stripe order.
    pub fn lock_all<'a>(
        &self,
        keys: impl Iterator<Item = (&'a Partition, &'a [u8])>,
    ) -> Vec<MutexGuard<'_, ()>> {
        let mut indices: Vec<usize> = keys.map(|(p, k)| Self::stripe(p, k)).collect();
        indices.sort_unstable();
        indices.dedup();
        indices
            .into_iter()
            .map(|i| self.stripes[i].lock())
            .collect()
    }
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for KeyLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLocks")
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_in_range_and_spread() {
        let p = Partition::new("p").unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0u32..4096 {
            let s = KeyLocks::stripe(&p, &i.to_be_bytes());
            assert!(s < STRIPES);
            seen.insert(s);
        }
        assert!(seen.len() > STRIPES / 2, "only {} stripes used", seen.len());
    }

    #[test]
    fn lock_all_dedups_shared_stripes() {
        let locks = KeyLocks::new();
        let p = Partition::new("p").unwrap();
        let keys: Vec<&[u8]> = vec![b"a", b"a", b"b"];
        let guards = locks.lock_all(keys.into_iter().map(|k| (&p, k)));
        assert!(guards.len() <= 2);
    }
}
