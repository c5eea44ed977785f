//! The in-memory state: one ordered map per partition, accounting, the age index.
//!
//! Lock order (never taken the other way round): the partition directory, then
//! partition write locks in name order, then the age index. Readers take one
//! partition's read lock and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use backend_api::{Bytes, Capabilities, Error, KeyRange, Partition, Result, WatchEvent};
use backend_support::{PartitionMap, RangeCursor, WatchHub};
use parking_lot::{Mutex, RwLock};

use crate::MemConfig;
use crate::config::{ENTRY_OVERHEAD, entry_cost};
use crate::error::{not_found, over_cap};

/// One stored value.
#[derive(Debug)]
pub(crate) struct Entry {
    pub value: Bytes,
    /// Invisible from this instant on.
    pub expires: Option<Instant>,
    /// Store-wide write sequence number (age order for eviction); 0 without a cap.
    pub seq: u64,
}

impl Entry {
    /// True while the entry is visible; reads the clock only for entries with a TTL.
    #[inline]
    pub fn is_live(&self, now: &mut Option<Instant>) -> bool {
        match self.expires {
            None => true,
            Some(deadline) => deadline > *now.get_or_insert_with(Instant::now),
        }
    }
}

/// The contents of one partition, behind its lock.
#[derive(Debug, Default)]
pub(crate) struct PartState {
    pub map: BTreeMap<Bytes, Entry>,
    /// `(deadline, key)` of every entry with a TTL, soonest first.
    pub expiry: BTreeSet<(Instant, Bytes)>,
    /// Accounted bytes of every stored entry (expired-but-unswept included).
    pub bytes: u64,
    /// Set when the partition was dropped (or the backend closed) while a handle to it
    /// was still held by a scan or a writer.
    pub dropped: bool,
}

impl PartState {
    /// Entries stored but already past their deadline (not yet swept).
    pub fn expired_count(&self, now: Instant) -> usize {
        self.expiry.iter().take_while(|(d, _)| *d <= now).count()
    }
}

/// One partition.
#[derive(Debug)]
pub(crate) struct Part {
    pub name: Partition,
    pub state: RwLock<PartState>,
    /// Set (under the read lock) by the first `watch`; until then writers skip the
    /// watch hub entirely.
    pub watched: AtomicBool,
}

impl Part {
    pub fn new(name: Partition) -> Self {
        Part {
            name,
            state: RwLock::new(PartState::default()),
            watched: AtomicBool::new(false),
        }
    }
}

/// The partition directory.
pub(crate) type Dir = PartitionMap<Arc<Part>>;

/// Entries in write order, for eviction under a memory cap.
#[derive(Debug, Default)]
pub(crate) struct AgeIndex {
    next_seq: u64,
    by_seq: BTreeMap<u64, (Arc<Part>, Bytes)>,
}

/// Everything a [`MemBackend`](crate::MemBackend) shares with its scans and sweeper.
#[derive(Debug)]
pub(crate) struct Inner {
    pub config: MemConfig,
    pub caps: Capabilities,
    pub closed: AtomicBool,
    pub parts: RwLock<Dir>,
    pub hub: WatchHub,
    /// Store-wide accounted bytes; kept only under a memory cap (else summed on demand).
    pub total_bytes: AtomicU64,
    /// `Some` exactly when `config.max_memory` is set.
    pub ages: Option<Mutex<AgeIndex>>,
    pub evictions: AtomicU64,
    pub expirations: AtomicU64,
    pub sweeps: AtomicU64,
}

/// A write to apply to a locked partition.
pub(crate) enum Write {
    Put {
        key: Bytes,
        value: Bytes,
        expires: Option<Instant>,
    },
    Delete {
        key: Bytes,
    },
    /// Removes every key of the range, one seek per key (bounded memory).
    DeleteRange {
        range: KeyRange,
    },
}

impl Inner {
    pub fn new(config: MemConfig, caps: Capabilities) -> Self {
        Inner {
            ages: config.max_memory.map(|_| Mutex::new(AgeIndex::default())),
            hub: WatchHub::new(config.watch_capacity),
            config,
            caps,
            closed: AtomicBool::new(false),
            parts: RwLock::new(Dir::default()),
            total_bytes: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
            sweeps: AtomicU64::new(0),
        }
    }

    /// `Error::Closed` once closed.
    #[inline]
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Runs `f` on the partition, under the directory's read lock (no `Arc` traffic).
    #[inline]
    pub fn with_part<R>(
        &self,
        partition: &Partition,
        f: impl FnOnce(&Arc<Part>) -> Result<R>,
    ) -> Result<R> {
        self.check_open()?;
        let parts = self.parts.read();
        f(parts.get(partition).ok_or_else(|| not_found(partition))?)
    }

    /// Store-wide accounted bytes.
    pub fn used_bytes(&self) -> u64 {
        if self.ages.is_some() {
            self.total_bytes.load(Ordering::Relaxed)
        } else {
            let parts: Vec<_> = self.parts.read().values().cloned().collect();
            parts.iter().map(|p| p.state.read().bytes).sum()
        }
    }

    /// The partition, or `PartitionNotFound`.
    #[inline]
    pub fn part(&self, partition: &Partition) -> Result<Arc<Part>> {
        self.check_open()?;
        self.parts
            .read()
            .get(partition)
            .cloned()
            .ok_or_else(|| not_found(partition))
    }

    /// `InvalidValue` when one entry could never fit under the memory cap.
    pub fn check_fits(&self, key: &[u8], value: &[u8]) -> Result<()> {
        match self.config.max_memory {
            Some(cap) if entry_cost(key.len(), value.len()) > cap => Err(over_cap(
                entry_cost(key.len(), value.len()),
                ENTRY_OVERHEAD,
                cap,
            )),
            _ => Ok(()),
        }
    }

    /// Applies `write` to the locked partition `part` and publishes it to watchers, all
    /// under the caller's write lock (so events leave in commit order).
    pub fn apply(&self, part: &Arc<Part>, st: &mut PartState, write: Write) {
        match write {
            Write::Put {
                key,
                value,
                expires,
            } => {
                if expires.is_some_and(|d| d <= Instant::now()) {
                    // A deadline already past: the put deletes any older value.
                    if self.remove_live(st, &key) {
                        self.publish(part, || WatchEvent::Delete { key });
                    }
                    return;
                }
                let cost = entry_cost(key.len(), value.len());
                // Clones (which allocate for fresh `Bytes`) only when someone watches;
                // checked under the write lock, which orders it against `watch`.
                let event = self.watching(part).then(|| WatchEvent::Put {
                    key: key.clone(),
                    value: value.clone(),
                });
                let seq = self.ages.as_ref().map_or(0, |ages| {
                    let mut ages = ages.lock();
                    ages.next_seq += 1;
                    let seq = ages.next_seq;
                    ages.by_seq.insert(seq, (Arc::clone(part), key.clone()));
                    seq
                });
                if let Some(deadline) = expires {
                    st.expiry.insert((deadline, key.clone()));
                }
                let entry = Entry {
                    value,
                    expires,
                    seq,
                };
                // Overwrite in place (the stored key stays), else insert.
                match st.map.get_mut(&key[..]) {
                    Some(slot) => {
                        let old = std::mem::replace(slot, entry);
                        self.forget(st, &key, &old, expires);
                    }
                    None => {
                        st.map.insert(key, entry);
                    }
                }
                st.bytes += cost;
                if self.ages.is_some() {
                    self.total_bytes.fetch_add(cost, Ordering::Relaxed);
                }
                if let Some(event) = event {
                    self.hub.publish(&part.name, event);
                }
            }
            Write::Delete { key } => {
                // An absent or expired key: nothing to report.
                if self.remove_live(st, &key) {
                    self.publish(part, || WatchEvent::Delete { key });
                }
            }
            Write::DeleteRange { range } => {
                let mut cursor = RangeCursor::new(&range);
                let mut now = None;
                let mut removed_live = false;
                while let Some(key) = cursor.next_key(&st.map) {
                    if let Some(old) = self.remove(st, &key) {
                        removed_live |= old.is_live(&mut now);
                    }
                }
                if removed_live {
                    self.publish(part, || WatchEvent::RangeDeleted { range });
                }
            }
        }
    }

    /// Removes `key`; true when it was live (not absent, not expired).
    fn remove_live(&self, st: &mut PartState, key: &[u8]) -> bool {
        self.remove(st, key)
            .is_some_and(|old| old.is_live(&mut None))
    }

    /// True when `part` has a watcher (cheap until the first `watch` on it).
    #[inline]
    fn watching(&self, part: &Part) -> bool {
        part.watched.load(Ordering::Relaxed) && self.hub.is_watched(&part.name)
    }

    #[inline]
    fn publish(&self, part: &Part, event: impl FnOnce() -> WatchEvent) {
        if self.watching(part) {
            self.hub.publish(&part.name, event());
        }
    }

    /// Removes `key` with its accounting, expiry and age records; no event.
    pub fn remove(&self, st: &mut PartState, key: &[u8]) -> Option<Entry> {
        let old = st.map.remove(key)?;
        self.forget(st, key, &old, None);
        Some(old)
    }

    /// Undoes the accounting, expiry and age records of `old`, which just left the map.
    /// `kept` is the deadline of the entry replacing `old`, whose expiry record is
    /// already in place (and identical to `old`'s if the deadlines are equal).
    fn forget(&self, st: &mut PartState, key: &[u8], old: &Entry, kept: Option<Instant>) {
        let cost = entry_cost(key.len(), old.value.len());
        st.bytes -= cost;
        if let Some(deadline) = old.expires.filter(|d| Some(*d) != kept) {
            st.expiry.remove(&(deadline, Bytes::copy_from_slice(key)));
        }
        if let Some(ages) = &self.ages {
            self.total_bytes.fetch_sub(cost, Ordering::Relaxed);
            ages.lock().by_seq.remove(&old.seq);
        }
    }

    /// Evicts the oldest-written entries of the store until it fits under the cap.
    /// Called with no lock held, after a write.
    pub fn enforce_cap(&self) {
        let (Some(cap), Some(ages)) = (self.config.max_memory, &self.ages) else {
            return;
        };
        while self.total_bytes.load(Ordering::Relaxed) > cap {
            let Some((seq, part, key)) = ages
                .lock()
                .by_seq
                .first_key_value()
                .map(|(seq, (part, key))| (*seq, part.clone(), key.clone()))
            else {
                break;
            };
            let mut st = part.state.write();
            let matches = st.map.get(&key).is_some_and(|e| e.seq == seq);
            if matches {
                let mut now = None;
                if let Some(old) = self.remove(&mut st, &key) {
                    if old.is_live(&mut now) {
                        self.evictions.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.expirations.fetch_add(1, Ordering::Relaxed);
                    }
                }
            } else {
                // Rewritten or removed since we looked: the index was updated under this
                // lock, so a record still naming `seq` here is stale. Drop it.
                let mut ages = ages.lock();
                if ages
                    .by_seq
                    .get(&seq)
                    .is_some_and(|(p, k)| Arc::ptr_eq(p, &part) && *k == key)
                {
                    ages.by_seq.remove(&seq);
                }
            }
        }
    }

    /// Removes up to `max` expired entries of one locked partition; returns how many.
    pub fn reap(&self, st: &mut PartState, now: Instant, max: usize) -> usize {
        let mut removed = 0;
        while removed < max {
            let Some((deadline, key)) = st.expiry.first().cloned() else {
                break;
            };
            if deadline > now {
                break;
            }
            if self.remove(st, &key).is_none() {
                st.expiry.remove(&(deadline, key));
            }
            removed += 1;
        }
        self.expirations
            .fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    /// Empties a partition (drop or close): its accounting and age records go too.
    pub fn clear(&self, st: &mut PartState) {
        if let Some(ages) = &self.ages {
            self.total_bytes.fetch_sub(st.bytes, Ordering::Relaxed);
            let mut ages = ages.lock();
            for entry in st.map.values() {
                ages.by_seq.remove(&entry.seq);
            }
        }
        st.map.clear();
        st.expiry.clear();
        st.bytes = 0;
        st.dropped = true;
    }
}
