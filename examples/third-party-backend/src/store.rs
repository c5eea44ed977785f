//! The engine: one sorted vector of pairs per partition, behind one mutex.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use backend_api::{Bytes, Partition, Result};

use crate::error::not_found;

/// A partition's pairs, sorted by key.
pub(crate) type Pairs = Vec<(Bytes, Bytes)>;

/// One partition's pairs, with an id unique per creation: a scan remembers the id, so
/// it ends rather than read a partition dropped and created again under its feet.
#[derive(Default)]
pub(crate) struct Part {
    pub(crate) id: u64,
    pub(crate) pairs: Pairs,
}

/// Every partition, by name.
pub(crate) type Partitions = BTreeMap<Partition, Part>;

/// Locks the partitions.
pub(crate) fn lock(partitions: &Mutex<Partitions>) -> MutexGuard<'_, Partitions> {
    // A panic while holding the lock cannot leave a half-sorted vector: every mutation
    // is a single insert or remove, so the data is still valid.
    partitions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The pairs of `p`, or `PartitionNotFound`.
pub(crate) fn pairs<'a>(partitions: &'a mut Partitions, p: &Partition) -> Result<&'a mut Pairs> {
    partitions
        .get_mut(p)
        .map(|part| &mut part.pairs)
        .ok_or_else(|| not_found(p))
}

/// The value of `key`, if present.
pub(crate) fn find(pairs: &Pairs, key: &[u8]) -> Option<Bytes> {
    pairs
        .binary_search_by(|(k, _)| k[..].cmp(key))
        .ok()
        .map(|i| pairs[i].1.clone())
}

/// Sets `key` to `value`, or removes it when `None` (nothing when it is absent).
pub(crate) fn apply(pairs: &mut Pairs, key: &[u8], value: Option<Bytes>) {
    match (pairs.binary_search_by(|(k, _)| k[..].cmp(key)), value) {
        (Ok(i), Some(v)) => pairs[i].1 = v,
        (Err(i), Some(v)) => pairs.insert(i, (Bytes::copy_from_slice(key), v)),
        (Ok(i), None) => {
            pairs.remove(i);
        }
        (Err(_), None) => {}
    }
}
