//! The reference model: per key and per partition, the history of writes since the last
//! state known for sure, each write marked durable or not, and what a reopened store may
//! therefore hold.
//!
//! Durability is prefix-closed here: a write is marked durable only when every write
//! before it is too (acknowledged under `SyncPolicy::Always`, or followed by a
//! successful `flush`/`close`), so "the newest durable write or any later one" is the
//! exact set of values a key may show after a power cut. A batch is all-or-nothing: if
//! one key shows the batch's value, no key of it may show a value older than the batch.

use std::collections::BTreeMap;

/// Partitions and keys the tests use: a tiny space, so operations collide.
pub const PARTS: usize = 2;
/// Keys per partition.
pub const KEYS: usize = 4;

/// The name of partition `p`.
pub fn part_name(p: usize) -> String {
    format!("p{p}")
}

/// Key `k`.
pub fn key(k: usize) -> Vec<u8> {
    format!("k{k}").into_bytes()
}

/// What a read of the whole store saw: per partition, `None` if absent, else its pairs.
pub type Observed = Vec<Option<BTreeMap<Vec<u8>, Vec<u8>>>>;

/// One key's history: its value after each write (`None`: absent).
type KeyHistory = Vec<Ev<Option<Vec<u8>>>>;

#[derive(Clone, Debug)]
struct Ev<T> {
    value: T,
    durable: bool,
    /// The write failed: it may or may not be there, now or after any later sync.
    unknown: bool,
}

/// One key's write within a batch.
#[derive(Clone, Debug)]
struct Member {
    p: usize,
    k: usize,
    value: Option<Vec<u8>>,
    /// Index of the batch's event in the key's history.
    at: usize,
}

/// The reference model.
#[derive(Clone, Debug)]
pub struct Model {
    keys: Vec<Vec<KeyHistory>>,
    parts: Vec<Vec<Ev<bool>>>,
    batches: Vec<Vec<Member>>,
    /// Some write's outcome is unknown (it failed): the live state is not exact.
    pub uncertain: bool,
    /// Writes recorded now failed (see [`Model::unknown`]).
    recording_unknown: bool,
    next_value: u64,
    tag: String,
}

impl Model {
    /// An empty store; values carry `tag`.
    pub fn new(tag: String) -> Self {
        Model {
            keys: vec![vec![vec![durable(None)]; KEYS]; PARTS],
            parts: vec![vec![durable(false)]; PARTS],
            batches: Vec::new(),
            uncertain: false,
            recording_unknown: false,
            next_value: 0,
            tag,
        }
    }

    /// A value never written before: the tag, a counter, then `pad` filler bytes.
    pub fn fresh_value(&mut self, pad: usize) -> Vec<u8> {
        self.next_value += 1;
        let mut v = format!("{}.{}.", self.tag, self.next_value).into_bytes();
        v.resize(v.len() + pad, b'x');
        v
    }

    /// Whether partition `p` exists now (exact unless `uncertain`).
    pub fn exists(&self, p: usize) -> bool {
        self.parts[p].last().is_some_and(|e| e.value)
    }

    /// Key `k` of `p` now (exact unless `uncertain`).
    pub fn current(&self, p: usize, k: usize) -> Option<&[u8]> {
        self.keys[p][k].last().and_then(|e| e.value.as_deref())
    }

    /// Records a write of one key (`None`: delete, or a put already expired).
    pub fn write(&mut self, p: usize, k: usize, value: Option<Vec<u8>>, durable: bool) {
        let unknown = self.recording_unknown;
        self.keys[p][k].push(Ev {
            value,
            durable: durable && !unknown,
            unknown,
        });
    }

    /// Records, through `apply`, writes that failed: each may or may not be there, now
    /// or after any later sync (a failed `fdatasync` may have dropped their bytes for
    /// good while they still read back), so no flush ever makes them durable.
    pub fn unknown(&mut self, apply: impl FnOnce(&mut Model)) {
        self.recording_unknown = true;
        apply(self);
        self.recording_unknown = false;
        self.uncertain = true;
    }

    /// Records an atomic batch: the final value of each key it wrote.
    pub fn batch(&mut self, writes: Vec<(usize, usize, Option<Vec<u8>>)>, durable: bool) {
        let mut members = Vec::new();
        for (p, k, value) in writes {
            members.push(Member {
                p,
                k,
                value: value.clone(),
                at: self.keys[p][k].len(),
            });
            self.write(p, k, value, durable);
        }
        self.batches.push(members);
    }

    /// Records the creation (`true`) or drop of partition `p`: either way its keys are
    /// gone (a re-created partition starts empty).
    pub fn partition(&mut self, p: usize, exists: bool, durable: bool) {
        let unknown = self.recording_unknown;
        self.parts[p].push(Ev {
            value: exists,
            durable: durable && !unknown,
            unknown,
        });
        for k in 0..KEYS {
            self.write(p, k, None, durable);
        }
    }

    /// Every write acknowledged so far is durable (a successful flush or close).
    pub fn all_durable(&mut self) {
        for e in self.parts.iter_mut().flatten() {
            e.durable |= !e.unknown;
        }
        for e in self.keys.iter_mut().flatten().flatten() {
            e.durable |= !e.unknown;
        }
    }

    /// The store's contents as the model has them now (exact unless `uncertain`).
    pub fn expected(&self) -> Observed {
        (0..PARTS)
            .map(|p| {
                self.exists(p).then(|| {
                    (0..KEYS)
                        .filter_map(|k| self.current(p, k).map(|v| (key(k), v.to_vec())))
                        .collect()
                })
            })
            .collect()
    }

    /// Checks what a reopened store holds against what the writes allow.
    pub fn check(&self, seen: &Observed) -> Result<(), String> {
        for (p, part) in seen.iter().enumerate() {
            let exists = part.is_some();
            if !allowed(&self.parts[p]).any(|e| e.value == exists) {
                return Err(format!(
                    "partition {} {}: not allowed by its history {:?}",
                    part_name(p),
                    if exists { "exists" } else { "is missing" },
                    self.parts[p]
                ));
            }
            let Some(pairs) = part else { continue };
            for k in pairs.keys() {
                if !(0..KEYS).any(|i| key(i) == *k) {
                    return Err(format!("{}: a key never written: {k:?}", part_name(p)));
                }
            }
            for k in 0..KEYS {
                let got = pairs.get(&key(k));
                if !allowed(&self.keys[p][k]).any(|e| e.value.as_ref() == got) {
                    return Err(format!(
                        "{}/k{k} = {}: not allowed by its history {}",
                        part_name(p),
                        show(got),
                        history(&self.keys[p][k])
                    ));
                }
            }
        }
        self.check_batches(seen)
    }

    fn check_batches(&self, seen: &Observed) -> Result<(), String> {
        for (i, members) in self.batches.iter().enumerate() {
            let mut applied = None;
            let mut lost = None;
            for m in members {
                let Some(pairs) = &seen[m.p] else { continue };
                let got = pairs.get(&key(m.k));
                if m.value.is_some() && m.value.as_ref() == got {
                    applied = Some(m);
                }
                let older = &self.keys[m.p][m.k][..m.at];
                if got.is_some() && older.iter().any(|e| e.value.as_ref() == got) {
                    lost = Some(m);
                }
            }
            if let (Some(a), Some(l)) = (applied, lost) {
                return Err(format!(
                    "batch #{i} torn: {}/k{} shows the batch's write but {}/k{} shows a value older than the batch",
                    part_name(a.p),
                    a.k,
                    part_name(l.p),
                    l.k
                ));
            }
        }
        Ok(())
    }

    /// Starts again from what a reopened store holds: all of it durable.
    pub fn reset(&mut self, seen: &Observed) {
        for (p, part) in seen.iter().enumerate() {
            self.parts[p] = vec![durable(part.is_some())];
            for k in 0..KEYS {
                let v = part.as_ref().and_then(|m| m.get(&key(k)).cloned());
                self.keys[p][k] = vec![durable(v)];
            }
        }
        self.batches.clear();
        self.uncertain = false;
    }
}

fn durable<T>(value: T) -> Ev<T> {
    Ev {
        value,
        durable: true,
        unknown: false,
    }
}

/// The events a reopened store may show: the newest durable one and every later one.
fn allowed<T>(events: &[Ev<T>]) -> impl Iterator<Item = &Ev<T>> {
    let from = events.iter().rposition(|e| e.durable).unwrap_or(0);
    events[from..].iter()
}

fn show(v: Option<&Vec<u8>>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => format!("{:?}", String::from_utf8_lossy(&v[..v.len().min(24)])),
    }
}

fn history(events: &[Ev<Option<Vec<u8>>>]) -> String {
    let items: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}{}",
                show(e.value.as_ref()),
                if e.durable { "!" } else { "?" }
            )
        })
        .collect();
    format!("[{}] (! durable, ? not)", items.join(", "))
}
