//! The reference model: every partition a `BTreeMap` of live-until entries with its own
//! watch channel, all behind one mutex, so each write is applied atomically by
//! construction. Knows nothing of the trait; [`super`] validates and drives it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use backend_api::{Bytes, Error, KeyRange, Operation, Partition, Result, WatchEvent};
use tokio::sync::broadcast;

/// How many events a watcher may fall behind before it gets `Lagged`.
const WATCH_CAPACITY: usize = 1024;

/// One stored value.
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) value: Bytes,
    /// `None`: never expires (no TTL, or one too large to represent).
    pub(super) deadline: Option<Instant>,
}

impl Entry {
    /// Whether the entry has not expired at `now`.
    pub(super) fn live(&self, now: Instant) -> bool {
        self.deadline.is_none_or(|d| d > now)
    }
}

type Map = BTreeMap<Bytes, Entry>;

/// One partition: its entries and its watchers.
pub(super) struct Part {
    /// Unique per creation, so a scan never crosses into a re-created partition.
    pub(super) id: u64,
    pub(super) map: Map,
    pub(super) watch: broadcast::Sender<WatchEvent>,
}

impl Part {
    /// An empty partition numbered `id`.
    fn new(id: u64) -> Self {
        Part {
            id,
            map: Map::new(),
            watch: broadcast::channel(WATCH_CAPACITY).0,
        }
    }

    /// The value of `key` if it is present and live at `now`.
    pub(super) fn live(&self, key: &[u8], now: Instant) -> Option<Bytes> {
        self.map
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone())
    }

    /// Publishes `event` to the partition's watchers (never waits).
    fn publish(&self, event: WatchEvent) {
        let _ = self.watch.send(event);
    }

    /// Applies one validated write, publishing what it changed.
    fn apply(&mut self, op: &Operation, now: Instant) {
        match op {
            Operation::Put {
                key,
                value,
                options,
                ..
            } => {
                // A TTL too large for `Instant` never expires in practice.
                let deadline = options.ttl.and_then(|t| now.checked_add(t));
                self.map.insert(
                    key.clone(),
                    Entry {
                        value: value.clone(),
                        deadline,
                    },
                );
                self.publish(WatchEvent::Put {
                    key: key.clone(),
                    value: value.clone(),
                });
            }
            Operation::Delete { key, .. } => {
                let was_live = self.map.remove(key).is_some_and(|e| e.live(now));
                if was_live {
                    self.publish(WatchEvent::Delete { key: key.clone() });
                }
            }
            Operation::DeleteRange { range, .. } => {
                if range.is_empty() {
                    return;
                }
                let removed = remove_range(&mut self.map, range);
                if removed.values().any(|e| e.live(now)) {
                    self.publish(WatchEvent::RangeDeleted {
                        range: range.clone(),
                    });
                }
            }
            // A kind this reference does not know yet: validation already refused it.
            _ => {}
        }
    }
}

/// Cuts the keys of `range` (not empty) out of `map` and returns them.
fn remove_range(map: &mut Map, range: &KeyRange) -> Map {
    let mut middle = match &range.start {
        Some(start) => map.split_off(start),
        None => std::mem::take(map),
    };
    if let Some(end) = &range.end {
        let mut tail = middle.split_off(end);
        map.append(&mut tail);
    }
    middle
}

/// Every partition, by name.
#[derive(Default)]
pub(super) struct State {
    pub(super) parts: BTreeMap<Partition, Part>,
}

impl State {
    /// The partition `p`, or `PartitionNotFound`.
    pub(super) fn part(&self, p: &Partition) -> Result<&Part> {
        self.parts.get(p).ok_or_else(|| not_found(p))
    }

    /// `PartitionNotFound` for the first partition named that does not exist.
    pub(super) fn require<'a>(&self, mut named: impl Iterator<Item = &'a Partition>) -> Result<()> {
        named.try_for_each(|p| self.part(p).map(drop))
    }

    /// Applies validated operations in order.
    pub(super) fn apply_all(&mut self, operations: &[Operation], now: Instant) {
        for op in operations {
            if let Some(part) = self.parts.get_mut(op.partition()) {
                part.apply(op, now);
            }
        }
    }
}

/// `PartitionNotFound` naming `p`.
pub(super) fn not_found(p: &Partition) -> Error {
    Error::PartitionNotFound(p.name().to_owned())
}

/// What every clone of a handle shares: the state and whether it is closed.
pub(super) struct Inner {
    state: Mutex<State>,
    closed: AtomicBool,
    next_id: AtomicU64,
}

impl Inner {
    /// An open handle's share, with no partitions.
    pub(super) fn new() -> Self {
        Inner {
            state: Mutex::new(State::default()),
            closed: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
        }
    }

    /// `Closed` once closed; checked before any argument.
    pub(super) fn open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The state, or `Closed` (a close may have happened since [`Inner::open`]).
    pub(super) fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.open()?;
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Creates `partition` unless it exists.
    pub(super) fn create(&self, partition: &Partition) -> Result<()> {
        let mut st = self.lock()?;
        if !st.parts.contains_key(partition) {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            st.parts.insert(partition.clone(), Part::new(id));
        }
        Ok(())
    }

    /// Marks the handle closed and drops every partition, which ends every watch
    /// stream; a second close does nothing.
    pub(super) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *st = State::default();
    }
}
