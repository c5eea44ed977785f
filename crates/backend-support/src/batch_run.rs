//! A (conditional) batch run under a [`Committer`]'s locks: checks, then the plan of
//! writes (deletes of absent keys dropped), then the engine's atomic commit, then the
//! watch events, in that order and all under the same locks.
//!
//! The backend validates first (closed handle, arguments, partitions, in the contract's
//! order) and supplies two things: a [`LockedView`] to read its engine while the locks
//! are held, and a `commit` that writes the planned [`Write`]s in one atomic engine
//! step (a RocksDB `WriteBatch`, a sled batch or transaction).

use std::collections::HashMap;

use backend_api::{BatchOutcome, Bytes, Check, KeyRange, Operation, Partition, Result, WatchEvent};

use crate::{Committer, Effect, Stored};

/// An engine's data as a batch sees it while holding its locks.
pub trait LockedView {
    /// The live value of `key` (`None`: absent or expired).
    fn live_value(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>>;

    /// True when `key` holds a live value.
    fn is_live(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        Ok(self.live_value(partition, key)?.is_some())
    }

    /// True when some key of `range` (never empty here) holds a live value, leaving out
    /// the keys for which `skip` answers true (the batch decided them already). Must
    /// run in bounded memory (walk, don't collect).
    fn any_live(
        &self,
        partition: &Partition,
        range: &KeyRange,
        skip: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<bool>;
}

/// One write the engine commits, in batch order. `op` is the position of the operation
/// it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write<'a> {
    /// Store `stored` under `key`.
    Put {
        /// Position in the batch's operations.
        op: usize,
        /// The partition.
        partition: &'a Partition,
        /// The key.
        key: &'a [u8],
        /// Value and deadline.
        stored: Stored<'a>,
    },
    /// Remove `key` (it holds a live value at this point of the batch).
    Delete {
        /// Position in the batch's operations.
        op: usize,
        /// The partition.
        partition: &'a Partition,
        /// The key.
        key: &'a [u8],
    },
    /// Remove every key of `range` (at least one is live at this point of the batch).
    DeleteRange {
        /// Position in the batch's operations.
        op: usize,
        /// The partition.
        partition: &'a Partition,
        /// The range, never empty.
        range: &'a KeyRange,
    },
}

/// What the batch so far decided about single keys and ranges.
#[derive(Default)]
struct Overlay<'a> {
    /// The last point write of each key: its position and whether the key is live after.
    points: HashMap<(&'a Partition, &'a [u8]), (usize, bool)>,
    /// Every range delete so far: position, partition, range.
    ranges: Vec<(usize, &'a Partition, &'a KeyRange)>,
}

impl<'a> Overlay<'a> {
    /// `Some(live)` when the batch so far decided `key`; `None`: the engine's state shows.
    fn state(&self, partition: &Partition, key: &[u8]) -> Option<bool> {
        let point = self.points.get(&(partition, key)).copied();
        let after = point.map_or(0, |(at, _)| at + 1);
        let ranged = self
            .ranges
            .iter()
            .any(|(at, p, r)| *at >= after && *p == partition && r.contains(key));
        if ranged {
            Some(false)
        } else {
            point.map(|(_, live)| live)
        }
    }

    fn is_live(&self, view: &impl LockedView, partition: &Partition, key: &[u8]) -> Result<bool> {
        match self.state(partition, key) {
            Some(live) => Ok(live),
            None => view.is_live(partition, key),
        }
    }

    fn range_has_live(
        &self,
        view: &impl LockedView,
        partition: &Partition,
        range: &KeyRange,
    ) -> Result<bool> {
        let written_live = self
            .points
            .keys()
            .any(|(p, k)| *p == partition && range.contains(k) && self.state(p, k) == Some(true));
        Ok(written_live
            || view.any_live(partition, range, &mut |k| {
                self.state(partition, k).is_some()
            })?)
    }
}

/// The writes and events of a batch whose deletes of absent keys are dropped.
struct Plan<'a> {
    writes: Vec<Write<'a>>,
    events: Vec<(&'a Partition, Event<'a>)>,
}

enum Event<'a> {
    Key(&'a [u8], Effect<'a>),
    Range(&'a KeyRange),
}

fn plan<'a>(view: &impl LockedView, operations: &'a [Operation]) -> Result<Plan<'a>> {
    let mut overlay = Overlay::default();
    let mut plan = Plan {
        writes: Vec::with_capacity(operations.len()),
        events: Vec::with_capacity(operations.len()),
    };
    for (op, operation) in operations.iter().enumerate() {
        match operation {
            Operation::Put {
                partition,
                key,
                value,
                options,
            } => match Stored::for_put(value, options) {
                Some(stored) => {
                    plan.writes.push(Write::Put {
                        op,
                        partition,
                        key,
                        stored,
                    });
                    plan.events
                        .push((partition, Event::Key(key, Effect::Put(value))));
                    overlay.points.insert((partition, key), (op, true));
                }
                None => plan_delete(view, &mut overlay, &mut plan, op, partition, key)?,
            },
            Operation::Delete { partition, key } => {
                plan_delete(view, &mut overlay, &mut plan, op, partition, key)?;
            }
            Operation::DeleteRange { partition, range } => {
                if range.is_empty() {
                    continue;
                }
                if overlay.range_has_live(view, partition, range)? {
                    plan.writes.push(Write::DeleteRange {
                        op,
                        partition,
                        range,
                    });
                    plan.events.push((partition, Event::Range(range)));
                }
                overlay.ranges.push((op, partition, range));
            }
            // Kinds added to the API later are rejected by validation before this.
            _ => {}
        }
    }
    Ok(plan)
}

fn plan_delete<'a>(
    view: &impl LockedView,
    overlay: &mut Overlay<'a>,
    plan: &mut Plan<'a>,
    op: usize,
    partition: &'a Partition,
    key: &'a [u8],
) -> Result<()> {
    if overlay.is_live(view, partition, key)? {
        plan.writes.push(Write::Delete { op, partition, key });
        plan.events
            .push((partition, Event::Key(key, Effect::Deleted)));
    }
    overlay.points.insert((partition, key), (op, false));
    Ok(())
}

/// True when some operation is a range delete that can remove anything.
pub fn has_range_delete(operations: &[Operation]) -> bool {
    operations
        .iter()
        .any(|op| matches!(op, Operation::DeleteRange { range, .. } if !range.is_empty()))
}

impl Committer {
    /// Runs a validated conditional batch (no checks: a plain atomic batch).
    ///
    /// Takes the locks (every checked and written key's stripe, or the gate exclusively
    /// when a range delete is present), evaluates the checks in order through `view`
    /// (the first that fails is the answer, nothing written), plans the writes (a delete
    /// of a key that is not live at its point of the batch writes nothing and publishes
    /// nothing; so does a range delete with no live key), hands them to `commit` (one
    /// atomic engine write; not called when there is nothing to write), and publishes
    /// the events in operation order before releasing the locks.
    pub fn run_batch<V: LockedView>(
        &self,
        checks: &[Check],
        operations: &[Operation],
        view: &V,
        commit: impl FnOnce(&[Write<'_>]) -> Result<()>,
    ) -> Result<BatchOutcome> {
        let keys = checks.iter().map(|c| (&c.partition, &c.key[..])).chain(
            operations
                .iter()
                .filter_map(|op| op.key().map(|k| (op.partition(), &k[..]))),
        );
        let _guard = self.lock_batch(keys, has_range_delete(operations));
        for (index, check) in checks.iter().enumerate() {
            let current = view.live_value(&check.partition, &check.key)?;
            if !check.holds(current.as_deref()) {
                return Ok(BatchOutcome::CheckFailed { index, current });
            }
        }
        let plan = plan(view, operations)?;
        if !plan.writes.is_empty() {
            commit(&plan.writes)?;
        }
        let mut watched: Vec<(&Partition, bool)> = Vec::new();
        for (partition, event) in plan.events {
            let is_watched = match watched.iter().find(|(p, _)| *p == partition) {
                Some((_, w)) => *w,
                None => {
                    let w = self.hub().is_watched(partition);
                    watched.push((partition, w));
                    w
                }
            };
            if !is_watched {
                continue;
            }
            match event {
                Event::Key(key, effect) => self.publish(partition, key, effect),
                Event::Range(range) => self.hub().publish(
                    partition,
                    WatchEvent::RangeDeleted {
                        range: range.clone(),
                    },
                ),
            }
        }
        Ok(BatchOutcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use backend_api::KeyRange;

    /// One partition's live keys.
    struct Map(BTreeMap<Vec<u8>, Vec<u8>>);

    impl LockedView for Map {
        fn live_value(&self, _: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
            Ok(self.0.get(key).map(|v| Bytes::copy_from_slice(v)))
        }

        fn any_live(
            &self,
            _: &Partition,
            range: &KeyRange,
            skip: &mut dyn FnMut(&[u8]) -> bool,
        ) -> Result<bool> {
            Ok(self.0.keys().any(|k| range.contains(k) && !skip(k)))
        }
    }

    fn writes(view: &Map, ops: &[Operation]) -> Vec<String> {
        plan(view, ops)
            .unwrap()
            .writes
            .iter()
            .map(|w| match w {
                Write::Put { key, .. } => format!("put {}", String::from_utf8_lossy(key)),
                Write::Delete { key, .. } => format!("del {}", String::from_utf8_lossy(key)),
                Write::DeleteRange { op, .. } => format!("range #{op}"),
            })
            .collect()
    }

    #[test]
    fn deletes_of_absent_keys_are_dropped_in_batch_order() {
        let p = Partition::new("p").unwrap();
        let view = Map([(b"a".to_vec(), b"1".to_vec())].into_iter().collect());
        let ops = vec![
            Operation::delete(&p, "x"),
            Operation::put(&p, "x", "1"),
            Operation::delete(&p, "x"),
            Operation::delete(&p, "a"),
            Operation::delete(&p, "a"),
        ];
        assert_eq!(writes(&view, &ops), ["put x", "del x", "del a"]);
    }

    #[test]
    fn range_deletes_count_only_keys_live_at_their_point() {
        let p = Partition::new("p").unwrap();
        let view = Map([(b"b".to_vec(), b"1".to_vec())].into_iter().collect());
        // The stored key was deleted before: nothing live is left in the range.
        let ops = vec![Operation::delete(&p, "b"), Operation::delete_prefix(&p, "")];
        assert_eq!(writes(&view, &ops), ["del b"]);
        // A key put earlier in the batch is live for the range delete.
        let ops = vec![
            Operation::delete(&p, "b"),
            Operation::put(&p, "c", "2"),
            Operation::delete_range(&p, KeyRange::between("a", "z")),
            Operation::delete(&p, "c"),
            Operation::put(&p, "d", "3"),
            Operation::delete_range(&p, KeyRange::between("x", "z")),
        ];
        assert_eq!(writes(&view, &ops), ["del b", "put c", "range #2", "put d"]);
        // A stored live key counts; an empty range never does.
        let ops = vec![
            Operation::delete_range(&p, KeyRange::between("b", "a")),
            Operation::delete_range(&p, KeyRange::from("a")),
        ];
        assert_eq!(writes(&view, &ops), ["range #1"]);
    }
}
