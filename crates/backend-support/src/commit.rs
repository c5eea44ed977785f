//! Writes under striped key locks, published to watchers before the locks are released.
//!
//! [`Committer`] is what a backend on an engine without native watch or CAS (RocksDB,
//! sled) wraps its engine writes in. Every write to a key holds that key's stripe from
//! before its engine write until its watch event is published, so the events of one key
//! come out in commit order, and a conditional batch that read a key under its stripe
//! knows nothing else wrote it in between. A batch holding a range delete takes the
//! committer's gate exclusively instead (see [`Committer::lock_batch`]): a range has no
//! finite set of stripes, and no write to a key inside it may commit before the range
//! delete and publish after it.

use backend_api::{Bytes, Partition, Result, WatchEvent};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::{KeyLocks, WatchHub};

/// What one write did to its key: the source of its watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect<'a> {
    /// Nothing changed (a delete of an absent or expired key): no event.
    Unchanged,
    /// The key now holds this (user) value.
    Put(&'a [u8]),
    /// A live value was removed.
    Deleted,
}

impl Effect<'_> {
    /// The watch event for `key`, or `None` when nothing changed.
    pub fn event(self, key: &[u8]) -> Option<WatchEvent> {
        let key = Bytes::copy_from_slice(key);
        match self {
            Effect::Unchanged => None,
            Effect::Put(value) => Some(WatchEvent::Put {
                key,
                value: Bytes::copy_from_slice(value),
            }),
            Effect::Deleted => Some(WatchEvent::Delete { key }),
        }
    }

    /// `Deleted` when `removed_live` (the write removed a live value), else `Unchanged`.
    pub fn deleted_if(removed_live: bool) -> Self {
        if removed_live {
            Effect::Deleted
        } else {
            Effect::Unchanged
        }
    }
}

/// Striped key locks, the range-delete gate and the watch hub of one backend handle.
pub struct Committer {
    locks: KeyLocks,
    gate: RwLock<()>,
    hub: WatchHub,
}

/// The locks a batch holds while it checks, writes and publishes; released on drop.
pub enum BatchGuard<'a> {
    /// The stripes of every key the batch reads or writes (and the gate, shared).
    Keys(
        RwLockReadGuard<'a, ()>,
        Vec<parking_lot::MutexGuard<'a, ()>>,
    ),
    /// The gate, exclusively: no other write runs meanwhile.
    Exclusive(RwLockWriteGuard<'a, ()>),
}

impl Committer {
    /// A committer whose watchers may fall `watch_capacity` events behind.
    pub fn new(watch_capacity: usize) -> Self {
        Committer {
            locks: KeyLocks::new(),
            gate: RwLock::new(()),
            hub: WatchHub::new(watch_capacity),
        }
    }

    /// The watch hub (to subscribe, and to end streams on drop and close).
    pub fn hub(&self) -> &WatchHub {
        &self.hub
    }

    /// Runs `write`, the engine write of one key, under the key's stripe, and publishes
    /// the [`Effect`] it reports before releasing the stripe. An error publishes
    /// nothing.
    pub fn write_one<'v>(
        &self,
        partition: &Partition,
        key: &[u8],
        write: impl FnOnce() -> Result<Effect<'v>>,
    ) -> Result<()> {
        let _gate = self.gate.read();
        let _stripe = self.locks.lock(partition, key);
        let effect = write()?;
        if effect != Effect::Unchanged && self.hub.is_watched(partition) {
            self.publish(partition, key, effect);
        }
        Ok(())
    }

    /// Locks for a batch: the stripes of every `(partition, key)` it checks or writes,
    /// in ascending order (no deadlock between batches), or, when `exclusive` (the batch
    /// holds a range delete), the gate alone, which every other write holds shared.
    pub fn lock_batch<'a>(
        &self,
        keys: impl Iterator<Item = (&'a Partition, &'a [u8])>,
        exclusive: bool,
    ) -> BatchGuard<'_> {
        if exclusive {
            BatchGuard::Exclusive(self.gate.write())
        } else {
            let gate = self.gate.read();
            BatchGuard::Keys(gate, self.locks.lock_all(keys))
        }
    }

    /// Publishes the event of `effect` on `key` (nothing for `Unchanged`).
    pub fn publish(&self, partition: &Partition, key: &[u8], effect: Effect<'_>) {
        if let Some(event) = effect.event(key) {
            self.hub.publish(partition, event);
        }
    }
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("locks", &self.locks)
            .field("hub", &self.hub)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn publishes_changes_only() {
        let committer = Committer::new(16);
        let p = Partition::new("p").unwrap();
        let mut watch = committer.hub().subscribe(&p, b"");
        committer
            .write_one(&p, b"a", || Ok(Effect::Unchanged))
            .unwrap();
        committer
            .write_one(&p, b"a", || Ok(Effect::Put(b"1")))
            .unwrap();
        assert!(
            committer
                .write_one(&p, b"a", || Err(backend_api::Error::Closed))
                .is_err()
        );
        committer
            .write_one(&p, b"a", || Ok(Effect::Deleted))
            .unwrap();
        committer.hub().close_all();
        let events: Vec<_> = watch.by_ref().map(Result::unwrap).collect().await;
        assert_eq!(
            events,
            vec![
                WatchEvent::Put {
                    key: Bytes::from("a"),
                    value: Bytes::from("1")
                },
                WatchEvent::Delete {
                    key: Bytes::from("a")
                },
            ]
        );
    }

    #[test]
    fn an_exclusive_batch_waits_for_key_writers() {
        let committer = std::sync::Arc::new(Committer::new(16));
        let p = Partition::new("p").unwrap();
        let guard = committer.lock_batch([(&p, &b"k"[..])].into_iter(), false);
        let other = committer.clone();
        let waiter = std::thread::spawn(move || {
            let _all = other.lock_batch(std::iter::empty(), true);
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "range batch ran beside a key write");
        drop(guard);
        waiter.join().unwrap();
    }
}
