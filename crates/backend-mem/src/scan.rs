//! Scans as streams: a chunk at a time under the partition's read lock, re-seeking
//! from the last key seen, so a scan costs O(log n) per chunk plus O(1) per pair and
//! never holds a lock between two polls. One stream serves both `scan` (pairs) and
//! `scan_entries` (entries with their wall-clock deadline), chosen by a [`Shape`].

use std::ops::Bound;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use backend_api::{Bytes, Result, ScanRange};
use futures_core::Stream;

use crate::error::not_found;
use crate::store::{Entry, Inner, Part};

/// Entries examined per chunk, as a multiple of the chunk size: bounds the time a chunk
/// holds the read lock when many expired-but-unswept entries must be skipped.
const EXAMINE_FACTOR: usize = 4;

/// What a scan yields for each live entry.
pub(crate) trait Shape: Send + Unpin + 'static {
    /// The stream's item.
    type Item: Send + Unpin + 'static;
    /// The item for `key`, `value` and the entry's deadline (`None`: no TTL).
    fn item(key: Bytes, value: Bytes, expires: Option<Instant>) -> Self::Item;
}

/// `scan`: `(key, value)` pairs.
pub(crate) struct Pairs;

impl Shape for Pairs {
    type Item = (Bytes, Bytes);
    fn item(key: Bytes, value: Bytes, _: Option<Instant>) -> Self::Item {
        (key, value)
    }
}

/// `scan_entries`: entries with the deadline on the wall clock.
pub(crate) struct Entries;

impl Shape for Entries {
    type Item = backend_api::Entry;
    fn item(key: Bytes, value: Bytes, expires: Option<Instant>) -> Self::Item {
        backend_api::Entry::new(key, value, expires.and_then(wall_deadline))
    }
}

/// The wall-clock moment of the monotonic `deadline`, through one pair of clock readings
/// taken once per process, so every scan reports a key's deadline the same; `None` when
/// it does not fit a `SystemTime` (as far as "never").
fn wall_deadline(deadline: Instant) -> Option<SystemTime> {
    static ANCHOR: OnceLock<(Instant, SystemTime)> = OnceLock::new();
    let (instant, wall) = *ANCHOR.get_or_init(|| (Instant::now(), SystemTime::now()));
    match deadline.checked_duration_since(instant) {
        Some(after) => wall.checked_add(after),
        None => wall.checked_sub(instant.duration_since(deadline)),
    }
}

/// A lazily refilled scan over one partition.
pub(crate) struct ScanStream<S: Shape> {
    inner: Arc<Inner>,
    part: Arc<Part>,
    /// Keys still to visit: `[lower, upper)`, narrowed after every chunk.
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    reverse: bool,
    keys_only: bool,
    /// Pairs still allowed by the limit.
    remaining: usize,
    chunk: std::vec::IntoIter<S::Item>,
    done: bool,
}

impl<S: Shape> ScanStream<S> {
    pub fn new(inner: Arc<Inner>, part: Arc<Part>, range: &ScanRange) -> Self {
        let (lower, upper) = range.bounds();
        let chunk = Vec::new().into_iter();
        ScanStream {
            inner,
            part,
            lower,
            upper,
            reverse: range.reverse,
            keys_only: range.keys_only,
            remaining: range.limit.unwrap_or(usize::MAX),
            chunk,
            done: range.is_empty(),
        }
    }

    /// Reads the next chunk under the read lock. `Err` ends the stream.
    fn refill(&mut self) -> Result<()> {
        self.inner.check_open()?;
        let st = self.part.state.read();
        if st.dropped {
            return Err(not_found(&self.part.name));
        }
        let want = self.remaining.min(self.inner.config.scan_chunk);
        let budget = want.saturating_mul(EXAMINE_FACTOR);
        let now = Instant::now();
        let range = st
            .map
            .range::<[u8], _>((as_slice(&self.lower), as_slice(&self.upper)));
        let (out, last) = if self.reverse {
            fill::<S>(range.rev(), want, budget, now, self.keys_only)
        } else {
            fill::<S>(range, want, budget, now, self.keys_only)
        };
        // Stopped early (chunk full, budget spent): resume after the last key seen.
        // Otherwise the range is exhausted.
        match last {
            Some(key) => {
                let key = Bound::Excluded(key);
                if self.reverse {
                    self.upper = key;
                } else {
                    self.lower = key;
                }
            }
            _ => self.done = true,
        }
        drop(st);
        self.remaining -= out.len();
        if self.remaining == 0 {
            self.done = true;
        }
        self.chunk = out.into_iter();
        Ok(())
    }
}

/// Collects up to `want` live items from `iter`, examining at most `budget` entries.
/// Returns them with the last key examined when it stopped early (`None`: the range
/// ran out).
fn fill<'a, S: Shape>(
    iter: impl Iterator<Item = (&'a Bytes, &'a Entry)>,
    want: usize,
    budget: usize,
    now: Instant,
    keys_only: bool,
) -> (Vec<S::Item>, Option<Bytes>) {
    let mut out = Vec::with_capacity(want);
    let mut examined = 0;
    for (key, entry) in iter {
        examined += 1;
        if entry.expires.is_none_or(|d| d > now) {
            let value = if keys_only {
                Bytes::new()
            } else {
                entry.value.clone()
            };
            out.push(S::item(key.clone(), value, entry.expires));
        }
        if out.len() >= want || examined >= budget {
            return (out, Some(key.clone()));
        }
    }
    (out, None)
}

fn as_slice(bound: &Bound<Bytes>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(b) => Bound::Included(&b[..]),
        Bound::Excluded(b) => Bound::Excluded(&b[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<S: Shape> Stream for ScanStream<S> {
    type Item = Result<S::Item>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(pair) = this.chunk.next() {
                return Poll::Ready(Some(Ok(pair)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if let Err(error) = this.refill() {
                this.done = true;
                return Poll::Ready(Some(Err(error)));
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.chunk.len();
        if self.done {
            (buffered, Some(buffered))
        } else {
            (buffered, self.remaining.checked_add(buffered))
        }
    }
}
