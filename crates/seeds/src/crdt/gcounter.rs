//! A grow-only counter, the smallest useful CRDT: the example state of the docs, the
//! example program and the battery.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A grow-only counter: one count per replica; its value is their sum, and two states
/// join by taking each replica's maximum, so merging in any order, any number of
/// times, loses no increment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GCounter(BTreeMap<String, u64>);

impl GCounter {
    /// Adds `n` to `replica`'s count (saturating).
    pub fn increment(&mut self, replica: &str, n: u64) {
        let count = self.0.entry(replica.to_owned()).or_default();
        *count = count.saturating_add(n);
    }

    /// The counter's value: the sum of every replica's count (saturating).
    pub fn value(&self) -> u64 {
        self.0.values().fold(0, |sum, n| sum.saturating_add(*n))
    }

    /// The join of two states: each replica's maximum. Commutative, associative and
    /// idempotent; pass it to [`GroupStore::merge`](super::GroupStore::merge).
    pub fn join(mut self, other: &GCounter) -> GCounter {
        for (replica, n) in &other.0 {
            let mine = self.0.entry(replica.clone()).or_default();
            *mine = (*mine).max(*n);
        }
        self
    }
}
