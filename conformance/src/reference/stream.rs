//! The reference's scan and watch streams over the `state` model.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use backend_api::{Bytes, EntryStream, Partition, Result, ScanRange, WatchEvent, WatchStream};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::state::{Entry, Inner, not_found};

/// Pairs a scan takes per lock.
const SCAN_CHUNK: usize = 64;

/// A lazy scan: refills a small buffer under the lock, resuming after the last key.
struct Cursor {
    inner: Arc<Inner>,
    partition: Partition,
    part_id: u64,
    range: ScanRange,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    left: usize,
    buf: VecDeque<backend_api::Entry>,
    exhausted: bool,
}

fn valid_range(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a < b,
        _ => true,
    }
}

impl Cursor {
    fn fill(&mut self) -> Result<()> {
        let st = self.inner.lock()?;
        let part = st
            .parts
            .get(&self.partition)
            .filter(|p| p.id == self.part_id)
            .ok_or_else(|| not_found(&self.partition))?;
        if !valid_range(&self.lo, &self.hi) {
            self.exhausted = true;
            return Ok(());
        }
        let now = Instant::now();
        let wall = SystemTime::now();
        let range = part.map.range((self.lo.clone(), self.hi.clone()));
        let live = |(k, e): (&Bytes, &Entry)| {
            let expires_at = e
                .deadline
                .and_then(|d| wall.checked_add(d.saturating_duration_since(now)));
            e.live(now)
                .then(|| backend_api::Entry::new(k.clone(), e.value.clone(), expires_at))
        };
        let chunk: Vec<backend_api::Entry> = if self.range.reverse {
            range.rev().filter_map(live).take(SCAN_CHUNK).collect()
        } else {
            range.filter_map(live).take(SCAN_CHUNK).collect()
        };
        drop(st);
        if chunk.len() < SCAN_CHUNK {
            self.exhausted = true;
        }
        if let Some(last) = chunk.last() {
            if self.range.reverse {
                self.hi = Bound::Excluded(last.key.clone());
            } else {
                self.lo = Bound::Excluded(last.key.clone());
            }
        }
        let keys_only = self.range.keys_only;
        self.buf.extend(chunk.into_iter().map(|mut entry| {
            if keys_only {
                entry.value = Bytes::new();
            }
            entry
        }));
        Ok(())
    }
}

/// The live entries of `range` in the partition numbered `part_id` (a validated
/// range), deadlines on the wall clock, read lazily; it fails with `PartitionNotFound`
/// once that partition is dropped (or re-created) and with `Closed` once the handle is.
pub(super) fn scan_stream(
    inner: Arc<Inner>,
    partition: &Partition,
    part_id: u64,
    range: ScanRange,
) -> EntryStream {
    let (lo, hi) = range.bounds();
    let cursor = Cursor {
        inner,
        partition: partition.clone(),
        part_id,
        lo,
        hi,
        left: range.limit.unwrap_or(usize::MAX),
        buf: VecDeque::new(),
        exhausted: range.is_empty(),
        range,
    };
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if c.left == 0 {
                return None;
            }
            if let Some(item) = c.buf.pop_front() {
                c.left -= 1;
                return Some((Ok(item), c));
            }
            if c.exhausted {
                return None;
            }
            if let Err(e) = c.fill() {
                c.exhausted = true;
                c.left = 0;
                return Some((Err(e), c));
            }
        }
    })
    .boxed()
}

/// The events of `receiver` that touch `prefix`, `Lagged` passed on; ends when the
/// partition's sender is dropped.
pub(super) fn watch_stream(
    receiver: broadcast::Receiver<WatchEvent>,
    prefix: Bytes,
) -> WatchStream {
    futures_util::stream::unfold(receiver, move |mut receiver| {
        let prefix = prefix.clone();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(e) => {
                        let wanted = match &e {
                            WatchEvent::Put { key, .. } | WatchEvent::Delete { key } => {
                                key.starts_with(&prefix)
                            }
                            WatchEvent::RangeDeleted { range } => range.overlaps_prefix(&prefix),
                            _ => true,
                        };
                        if wanted {
                            return Some((Ok(e), receiver));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Some((Ok(WatchEvent::Lagged(n)), receiver));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    })
    .boxed()
}
