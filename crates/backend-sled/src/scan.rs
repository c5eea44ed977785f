//! Range scans over a sled tree, streamed a chunk at a time from a blocking thread.

use backend_api::{Bytes, KvStream, Result, ScanRange};
use backend_support::{blocking_stream, ttl};

use crate::error::sled_err;

/// A stored value as [`Bytes`] without its TTL header: zero-copy for large values
/// (the `IVec` becomes the owner), a plain copy for small ones.
pub(crate) fn user_bytes(stored: &sled::IVec, value: &[u8]) -> Bytes {
    const COPY_BELOW: usize = 256;
    if value.len() < COPY_BELOW {
        return Bytes::copy_from_slice(value);
    }
    let offset = stored.len() - value.len();
    Bytes::from_owner(stored.clone()).slice(offset..)
}

/// Streams the live pairs of `tree` in `range` (which must not be empty), forward or
/// reverse, skipping expired values. Bounded memory: the tree's iterator is consumed
/// lazily and at most two chunks wait for the consumer.
pub(crate) fn scan_tree(tree: sled::Tree, range: ScanRange) -> KvStream {
    blocking_stream(move |emit| {
        let mut left = range.limit.unwrap_or(usize::MAX);
        let keys_only = range.keys_only;
        let mut visit = |item: sled::Result<(sled::IVec, sled::IVec)>| -> bool {
            let (key, stored) = match item {
                Ok(pair) => pair,
                Err(e) => return emit(Err(sled_err(e))),
            };
            let live = match ttl::decode(&stored) {
                Ok((deadline, value)) => {
                    (!ttl::is_expired(deadline, ttl::now_ms())).then_some(value)
                }
                Err(e) => return emit(Err(e)),
            };
            let Some(value) = live else { return true };
            let value = if keys_only {
                Bytes::new()
            } else {
                user_bytes(&stored, value)
            };
            left -= 1;
            emit(Ok((Bytes::copy_from_slice(&key), value))) && left > 0
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
    })
}

/// Counts live keys and their bytes (key + user value) in `tree`. Blocking, O(n).
pub(crate) fn measure_tree(tree: &sled::Tree) -> Result<(u64, u64)> {
    let now = ttl::now_ms();
    let (mut count, mut bytes) = (0u64, 0u64);
    for item in tree.iter() {
        let (key, stored) = item.map_err(sled_err)?;
        if let Some(value) = ttl::live_value(&stored, now)? {
            count += 1;
            bytes += (key.len() + value.len()) as u64;
        }
    }
    Ok((count, bytes))
}
