//! The cache's entries and the bookkeeping that keeps them no older than the last
//! write through the layer.
//!
//! The race to avoid: a read misses, fetches the old value, a write through the layer
//! completes and updates the entry, then the read stores the old value over it. So
//! every write marks its keys' stripe (a lock-protected `(version, writing)` pair, one
//! per hash bucket of keys) before it reaches the backend and again when it ends, and a
//! read stores what it fetched only if its stripe saw no write start or end meanwhile.
//! Writes that touch whole partitions (range deletes, drops, creates) do the same with
//! one global generation, under a lock that also covers every fill.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backend_api::{Bytes, KeyRange, Partition};
use parking_lot::{Mutex, RwLock};
use quick_cache::{Equivalent, Weighter};

const STRIPES: usize = 256;
/// Bytes charged per entry on top of its key and value (key struct, bookkeeping).
const ENTRY_OVERHEAD: u64 = 96;

/// An entry's key: partition and key bytes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EntryKey {
    pub(crate) partition: Partition,
    pub(crate) key: Bytes,
}

/// The same key, borrowed, for lookups that allocate nothing.
pub(crate) struct KeyRef<'a> {
    pub(crate) partition: &'a Partition,
    pub(crate) key: &'a [u8],
}

impl Hash for EntryKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        KeyRef::of(self).hash(h);
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.partition.name().hash(h);
        self.key.hash(h);
    }
}

impl Equivalent<EntryKey> for KeyRef<'_> {
    fn equivalent(&self, key: &EntryKey) -> bool {
        *self.partition == key.partition && self.key == &key.key[..]
    }
}

impl<'a> KeyRef<'a> {
    pub(crate) fn new(partition: &'a Partition, key: &'a [u8]) -> Self {
        KeyRef { partition, key }
    }

    fn of(key: &'a EntryKey) -> Self {
        KeyRef::new(&key.partition, &key.key)
    }

    pub(crate) fn owned(&self) -> EntryKey {
        EntryKey {
            partition: self.partition.clone(),
            key: Bytes::copy_from_slice(self.key),
        }
    }
}

/// What the layer knows a key holds: a value or absence, until `expires` (a TTL write
/// through the layer), never later.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) value: Option<Bytes>,
    pub(crate) expires: Option<Instant>,
}

impl Entry {
    pub(crate) fn live(&self, now: impl FnOnce() -> Instant) -> bool {
        self.expires.is_none_or(|at| now() < at)
    }
}

#[derive(Clone)]
pub(crate) struct Weigh;

impl Weighter<EntryKey, Entry> for Weigh {
    fn weight(&self, key: &EntryKey, entry: &Entry) -> u64 {
        ENTRY_OVERHEAD + key.key.len() as u64 + entry.value.as_ref().map_or(0, |v| v.len() as u64)
    }
}

#[derive(Default)]
struct Stripe {
    version: u64,
    writing: u32,
}

#[derive(Default)]
struct Epoch {
    generation: u64,
    writing: u32,
}

/// What a read saw before it went to the backend.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot {
    stripe: usize,
    version: u64,
    generation: u64,
    clean: bool,
}

/// One key of a write in flight.
struct Pending {
    key: EntryKey,
    stripe: usize,
    version: u64,
}

/// The whole state of one cache.
pub(crate) struct State {
    entries: quick_cache::sync::Cache<EntryKey, Entry, Weigh>,
    hasher: RandomState,
    stripes: Box<[Mutex<Stripe>]>,
    epoch: RwLock<Epoch>,
    /// Deadlines of keys written with a TTL through the layer, so a value fetched after
    /// its entry was evicted is not kept past them.
    ttl: Mutex<HashMap<EntryKey, Instant>>,
    ttl_len: AtomicUsize,
    closed: AtomicBool,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

impl State {
    pub(crate) fn new(bytes: u64) -> Self {
        let items = (bytes / 512).clamp(16, 1 << 24) as usize;
        State {
            entries: quick_cache::sync::Cache::with_weighter(items, bytes.max(1), Weigh),
            hasher: RandomState::new(),
            stripes: (0..STRIPES).map(|_| Mutex::default()).collect(),
            epoch: RwLock::default(),
            ttl: Mutex::default(),
            ttl_len: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops serving from the cache for good and frees it.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _epoch = self.epoch.write();
        self.entries.clear();
    }

    pub(crate) fn weight(&self) -> u64 {
        self.entries.weight()
    }

    fn stripe_of(&self, key: &KeyRef<'_>) -> usize {
        (self.hasher.hash_one(key) as usize) % STRIPES
    }

    /// The live entry for `key`, counting a hit or a miss.
    pub(crate) fn lookup(&self, key: &KeyRef<'_>) -> Option<Option<Bytes>> {
        let found = self.entries.get(key).filter(|e| e.live(Instant::now));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(|e| e.value)
    }

    /// Taken before a read goes to the backend; [`fill`](Self::fill) stores its
    /// answer only if no write through the layer could have changed the key meanwhile.
    pub(crate) fn snapshot(&self, key: &KeyRef<'_>) -> Snapshot {
        let stripe = self.stripe_of(key);
        let epoch = self.epoch.read();
        let s = self.stripes[stripe].lock();
        Snapshot {
            stripe,
            version: s.version,
            generation: epoch.generation,
            clean: s.writing == 0 && epoch.writing == 0,
        }
    }

    /// Stores what a read fetched, unless a write intervened or the layer is closed.
    pub(crate) fn fill(&self, key: &KeyRef<'_>, snap: Snapshot, value: Option<Bytes>) {
        if !snap.clean || self.is_closed() {
            return;
        }
        let expires = match self.ttl_deadline(key) {
            Some(at) if at <= Instant::now() => return,
            other => other,
        };
        let epoch = self.epoch.read();
        if epoch.generation != snap.generation {
            return;
        }
        let s = self.stripes[snap.stripe].lock();
        if s.version == snap.version && s.writing == 0 {
            self.entries.insert(key.owned(), Entry { value, expires });
        }
    }

    fn ttl_deadline(&self, key: &KeyRef<'_>) -> Option<Instant> {
        if self.ttl_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.ttl.lock().get(&key.owned()).copied()
    }

    /// Records (or, with `None`, forgets) the TTL deadline of a key written through the
    /// layer; expired records are pruned as the map grows.
    fn set_ttl(&self, key: &EntryKey, deadline: Option<Instant>) {
        if deadline.is_none() && self.ttl_len.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut map = self.ttl.lock();
        match deadline {
            Some(at) => {
                map.insert(key.clone(), at);
                if map.len().is_power_of_two() && map.len() >= 1024 {
                    let now = Instant::now();
                    map.retain(|_, at| *at > now);
                }
            }
            None => {
                map.remove(key);
            }
        }
        self.ttl_len.store(map.len(), Ordering::Release);
    }

    /// Marks `keys` as being written and drops their entries; pass the result to
    /// [`Write::finish`].
    pub(crate) fn begin(&self, keys: Vec<EntryKey>, whole_partitions: bool) -> Write<'_> {
        let generation = {
            let mut epoch = self.epoch.write_if(whole_partitions);
            epoch.generation += u64::from(whole_partitions);
            epoch.writing += u32::from(whole_partitions);
            epoch.generation
        };
        let pending = keys
            .into_iter()
            .map(|key| {
                let stripe = self.stripe_of(&KeyRef::of(&key));
                let mut s = self.stripes[stripe].lock();
                s.version += 1;
                s.writing += 1;
                // Until the write ends its keys are misses, answered by the backend:
                // once the backend has applied a batch, no reader may mix an old
                // cached key with a new one read from the backend.
                self.entries.remove(&KeyRef::of(&key));
                Pending {
                    version: s.version,
                    key,
                    stripe,
                }
            })
            .collect();
        Write {
            state: self,
            pending,
            generation,
            whole_partitions,
            done: false,
        }
    }
}

/// `RwLock` access that is exclusive only when asked.
trait WriteIf {
    fn write_if(&self, exclusive: bool) -> EpochGuard<'_>;
}

enum EpochGuard<'a> {
    /// A copy of the state, kept stable by the held read lock.
    Shared {
        _held: parking_lot::RwLockReadGuard<'a, Epoch>,
        copy: Epoch,
    },
    Exclusive(parking_lot::RwLockWriteGuard<'a, Epoch>),
}

impl std::ops::Deref for EpochGuard<'_> {
    type Target = Epoch;
    fn deref(&self) -> &Epoch {
        match self {
            EpochGuard::Shared { copy, .. } => copy,
            EpochGuard::Exclusive(g) => g,
        }
    }
}

impl std::ops::DerefMut for EpochGuard<'_> {
    fn deref_mut(&mut self) -> &mut Epoch {
        match self {
            EpochGuard::Shared { copy, .. } => copy,
            EpochGuard::Exclusive(g) => g,
        }
    }
}

impl WriteIf for RwLock<Epoch> {
    fn write_if(&self, exclusive: bool) -> EpochGuard<'_> {
        if exclusive {
            EpochGuard::Exclusive(self.write())
        } else {
            let g = self.read();
            let copy = Epoch {
                generation: g.generation,
                writing: g.writing,
            };
            EpochGuard::Shared { _held: g, copy }
        }
    }
}

/// What a finished write leaves in the cache for one key.
pub(crate) enum After {
    /// The key now holds this (a TTL write: until `ttl` from when the write began).
    Known(Option<Bytes>, Option<Duration>),
    /// Unknown (failed, ambiguous, or not worth tracking): drop the entry.
    Forget,
}

/// A write in flight through the layer. Dropped without [`finish`](Write::finish)
/// (the caller's future was cancelled), it forgets every key it touched.
pub(crate) struct Write<'a> {
    state: &'a State,
    pending: Vec<Pending>,
    generation: u64,
    whole_partitions: bool,
    done: bool,
}

impl Write<'_> {
    /// Ends the write: `after(key)` says what each key holds now; `ranges` lists
    /// whole-partition changes (`None`: the whole partition) whose entries are dropped.
    /// `began` is when the write was sent, needed for TTL writes (read only then: a
    /// clock reading costs tens of ns on some machines).
    pub(crate) fn finish(
        mut self,
        began: Option<Instant>,
        after: impl Fn(&EntryKey) -> After,
        ranges: &[(Partition, Option<KeyRange>)],
    ) {
        self.done = true;
        let state = self.state;
        let mut epoch = state.epoch.write_if(self.whole_partitions);
        if self.whole_partitions {
            state.entries.retain(|k, _| {
                !ranges.iter().any(|(p, r)| {
                    *p == k.partition && r.as_ref().is_none_or(|r| r.contains(&k.key))
                })
            });
        }
        let undisturbed = epoch.generation == self.generation
            && epoch.writing == u32::from(self.whole_partitions);
        for p in self.pending.drain(..) {
            let mut s = state.stripes[p.stripe].lock();
            let alone = s.writing == 1 && s.version == p.version;
            let known = match after(&p.key) {
                After::Known(value, ttl) if alone && undisturbed && !state.is_closed() => {
                    Some((value, ttl))
                }
                _ => None,
            };
            match known {
                // A TTL write timed by its caller (`began`); untimed, forget it.
                Some((_, Some(_))) if began.is_none() => {
                    state.entries.remove(&KeyRef::of(&p.key));
                }
                Some((value, ttl)) => {
                    let expires = ttl.and_then(|t| began.and_then(|at| at.checked_add(t)));
                    state.set_ttl(&p.key, expires);
                    state.entries.insert(p.key, Entry { value, expires });
                }
                None => {
                    state.entries.remove(&KeyRef::of(&p.key));
                }
            }
            s.writing -= 1;
            s.version += 1;
        }
        if self.whole_partitions {
            epoch.generation += 1;
            epoch.writing -= 1;
        }
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let state = self.state;
        let mut epoch = state.epoch.write_if(self.whole_partitions);
        for p in self.pending.drain(..) {
            let mut s = state.stripes[p.stripe].lock();
            state.entries.remove(&KeyRef::of(&p.key));
            s.writing -= 1;
            s.version += 1;
        }
        if self.whole_partitions {
            state.entries.clear();
            epoch.generation += 1;
            epoch.writing -= 1;
        }
    }
}
