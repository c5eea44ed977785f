//! Range scans over a sled tree, streamed a chunk at a time from a blocking thread.

use backend_api::{Bytes, Entry, Result, ScanRange};
use backend_support::{blocking_stream_with, live_header, live_value, ttl};
use futures_util::stream::BoxStream;

use crate::error::sled_err;
use crate::value;

/// Streams the live items of `tree` in `range` (which must not be empty), forward or
/// reverse, skipping expired values: each becomes `make(key, value, deadline)` (value
/// empty under `keys_only`, deadline in ms since the epoch, `None` without a TTL), so
/// one walk serves `scan` (pairs) and `scan_entries` (entries). Bounded memory: the
/// tree's iterator is consumed lazily and at most two chunks wait for the consumer.
///
/// The blocking thread walks the tree and filters by TTL; it sends sled's own `IVec`s
/// (reference-counted, no copy), and the consumer wraps them in [`Bytes`] as it polls,
/// so every allocation of a handed-out item is made and freed on the same thread.
pub(crate) fn scan_tree<O: Send + 'static>(
    tree: sled::Tree,
    range: ScanRange,
    make: fn(Bytes, Bytes, Option<u64>) -> O,
) -> BoxStream<'static, Result<O>> {
    let keys_only = range.keys_only;
    let convert = move |(key, stored, header_len, deadline): Walked| {
        let value = if keys_only {
            Bytes::new()
        } else {
            value::user_bytes(stored, header_len)
        };
        make(value::key_bytes(key), value, deadline)
    };
    blocking_stream_with(
        move |emit| {
            let mut left = range.limit.unwrap_or(usize::MAX);
            let mut visit = |item: sled::Result<(sled::IVec, sled::IVec)>| -> bool {
                let (key, stored) = match item {
                    Ok(pair) => pair,
                    Err(e) => return emit(Err(sled_err(e))),
                };
                let (header_len, deadline) = match live_header(&stored) {
                    Ok(Some(live)) => live,
                    Ok(None) => return true,
                    Err(e) => return emit(Err(e)),
                };
                left -= 1;
                emit(Ok((key, stored, header_len, deadline))) && left > 0
            };
            let iter = tree.range(range.bounds());
            if range.reverse {
                for item in iter.rev() {
                    if !visit(item) {
                        break;
                    }
                }
            } else {
                for item in iter {
                    if !visit(item) {
                        break;
                    }
                }
            }
        },
        convert,
    )
}

/// A live value as the walk sends it: key, stored bytes, header length, deadline.
type Walked = (sled::IVec, sled::IVec, usize, Option<u64>);

/// `scan`'s item.
pub(crate) fn pair(key: Bytes, value: Bytes, _deadline: Option<u64>) -> (Bytes, Bytes) {
    (key, value)
}

/// `scan_entries`' item: the deadline as a moment.
pub(crate) fn entry(key: Bytes, value: Bytes, deadline: Option<u64>) -> Entry {
    Entry::new(key, value, deadline.and_then(ttl::deadline_time))
}

/// Counts live keys and their bytes (key + user value) in `tree`. Blocking, O(n).
pub(crate) fn measure_tree(tree: &sled::Tree) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    for item in tree.iter() {
        let (key, stored) = item.map_err(sled_err)?;
        if let Some(value) = live_value(&stored)? {
            count += 1;
            bytes += (key.len() + value.len()) as u64;
        }
    }
    Ok((count, bytes))
}
