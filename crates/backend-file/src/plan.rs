//! Turning a validated batch into the records to append, under the writer lock.
//!
//! Each operation is resolved to its partition id, and what would write nothing is left
//! out: a delete of a key that is absent (or expired) at its point in the batch, a
//! range delete that removes no live key. "At its point" means on top of the keydir
//! plus the batch's own earlier operations: `[put k, delete k]` writes both records,
//! `[delete_range all, delete k]` writes only the range tombstone. Memory stays bounded
//! by the batch itself: a range delete is checked by walking the keydir, never by
//! collecting its keys.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use backend_api::{Error, KeyRange, Operation, Partition, Result};
use backend_support::ttl;

use crate::format::Kind;
use crate::keydir::{PartState, State};

/// One record to append, resolved to its partition id.
pub(crate) struct Op<'a> {
    pub name: &'a str,
    pub part: &'a Partition,
    pub pid: u32,
    pub kind: Kind,
    /// The key, or for [`Kind::DeleteRange`] the encoded range.
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub expiry: u64,
    /// The range of a [`Kind::DeleteRange`] record.
    pub range: Option<&'a KeyRange>,
}

impl<'a> Op<'a> {
    /// A record of `kind` on `part`, whose id is `pid`.
    pub fn new(part: &'a Partition, pid: u32, kind: Kind, key: &'a [u8]) -> Self {
        Op {
            name: part.name(),
            part,
            pid,
            kind,
            key,
            value: b"",
            expiry: 0,
            range: None,
        }
    }
}

/// The id of `part`, or `PartitionNotFound`.
pub(crate) fn pid_of(st: &State, part: &Partition) -> Result<u32> {
    st.parts
        .get(part.name())
        .map(|p| p.id)
        .ok_or_else(|| Error::PartitionNotFound(part.name().to_owned()))
}

/// What the batch has done so far to one partition, on top of its keydir.
#[derive(Default)]
struct Overlay<'a> {
    /// Keys written so far, and whether each is live after the batch so far.
    keys: BTreeMap<&'a [u8], bool>,
    /// Ranges deleted so far.
    ranges: Vec<&'a KeyRange>,
}

impl<'a> Overlay<'a> {
    /// True when `key` is live at this point of the batch.
    fn live(&self, p: &PartState, key: &[u8], now: u64) -> bool {
        if let Some(&live) = self.keys.get(key) {
            return live;
        }
        !self.ranges.iter().any(|r| r.contains(key))
            && p.keys().get(key).is_some_and(|e| !e.expired(now))
    }

    /// True when some key of `range` is live at this point of the batch. Stops at the
    /// first one.
    fn range_has_live(&self, p: &PartState, range: &KeyRange, now: u64) -> bool {
        if range.is_empty() {
            return false;
        }
        if self.keys.range::<[u8], _>(bounds(range)).any(|(_, &l)| l) {
            return true;
        }
        // Keys the batch wrote are all dead here (else the line above answered).
        let (lo, hi) = bounds(range);
        p.keys().range(lo, hi).any(|(k, e)| {
            !e.expired(now)
                && !self.keys.contains_key(k)
                && !self.ranges.iter().any(|r| r.contains(k))
        })
    }

    fn delete_range(&mut self, range: &'a KeyRange) {
        for (_, live) in self.keys.range_mut::<[u8], _>(bounds(range)) {
            *live = false;
        }
        self.ranges.push(range);
    }
}

fn bounds(range: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (
        range
            .start
            .as_deref()
            .map_or(Bound::Unbounded, Bound::Included),
        range
            .end
            .as_deref()
            .map_or(Bound::Unbounded, Bound::Excluded),
    )
}

/// The records of `operations` (already validated; partitions checked under the same
/// writer lock). `expiries[i]` is the deadline of put `i`; `ranges[i]` the encoded
/// range of range delete `i`.
pub(crate) fn plan<'a>(
    st: &State,
    operations: &'a [Operation],
    expiries: &[u64],
    ranges: &'a [Vec<u8>],
) -> Result<Vec<Op<'a>>> {
    let now = ttl::now_ms();
    let mut out = Vec::with_capacity(operations.len());
    let mut overlays: HashMap<&str, Overlay<'a>> = HashMap::new();
    for (i, operation) in operations.iter().enumerate() {
        let part = operation.partition();
        let p = st
            .parts
            .get(part.name())
            .ok_or_else(|| Error::PartitionNotFound(part.name().to_owned()))?;
        let overlay = overlays.entry(part.name()).or_default();
        match operation {
            Operation::Put { key, value, .. } => {
                let expiry = expiries[i];
                overlay.keys.insert(key, expiry == 0 || expiry > now);
                out.push(Op {
                    value,
                    expiry,
                    ..Op::new(part, p.id, Kind::Put, key)
                });
            }
            Operation::Delete { key, .. } if overlay.live(p, key, now) => {
                overlay.keys.insert(key, false);
                out.push(Op::new(part, p.id, Kind::Delete, key));
            }
            Operation::DeleteRange { range, .. } if overlay.range_has_live(p, range, now) => {
                overlay.delete_range(range);
                out.push(Op {
                    range: Some(range),
                    ..Op::new(part, p.id, Kind::DeleteRange, &ranges[i])
                });
            }
            // A delete with nothing live to remove writes nothing; validation refused
            // every kind this backend does not know.
            _ => {}
        }
    }
    Ok(out)
}
