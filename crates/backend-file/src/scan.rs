//! The scan producer: a scan's items a chunk at a time, each chunk read from the keydir
//! under the read lock, then its values read without it (on the blocking pool, through
//! `backend_support::blocking_stream`).

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use backend_api::{Error, Result, ScanRange};
use backend_support::ttl;
use bytes::Bytes;

use crate::files::Handle;
use crate::keydir::{Entry, as_slice};
use crate::store::Store;
use crate::store::read::{file_of, read_value};

/// Keys read from the keydir per chunk.
const SCAN_CHUNK: usize = 256;

/// One live key of a scan: its value and its expiry (ms since the epoch, 0 = never).
pub(crate) struct Item {
    pub key: Bytes,
    pub value: Bytes,
    pub expiry: u64,
}

/// Produces the live items of `range` in partition `name` (while it still has id
/// `pid`), in range order, until `emit` returns false. Stops with `Err(Closed)` when the
/// store closes, and at the first read error.
pub(crate) fn produce(
    store: &Store,
    name: &str,
    pid: u32,
    range: &ScanRange,
    emit: &mut dyn FnMut(Result<Item>) -> bool,
) {
    if range.is_empty() {
        return;
    }
    let (mut lo, mut hi) = range.bounds();
    let mut left = range.limit.unwrap_or(usize::MAX);
    loop {
        if store.closed.load(Ordering::Acquire) {
            emit(Err(Error::Closed));
            return;
        }
        type Found = (Bytes, Option<(Entry, Result<Arc<Handle>>)>);
        let chunk: Vec<Found> = {
            let st = store.state.read();
            let Some(p) = st.part_by_id(name, pid) else {
                return;
            };
            let now = ttl::now_ms();
            let pick = |(k, e): (&[u8], Entry)| -> Found {
                let live = (!e.expired(now)).then(|| (e, file_of(&st, &e)));
                (Bytes::copy_from_slice(k), live)
            };
            let it = p.keys().range(as_slice(&lo), as_slice(&hi));
            if range.reverse {
                it.rev().take(SCAN_CHUNK).map(pick).collect()
            } else {
                it.take(SCAN_CHUNK).map(pick).collect()
            }
        };
        let Some((last, _)) = chunk.last() else {
            return;
        };
        if range.reverse {
            hi = Bound::Excluded(last.clone());
        } else {
            lo = Bound::Excluded(last.clone());
        }
        for (key, live) in chunk {
            let Some((e, file)) = live else { continue };
            let value = if range.keys_only {
                Ok(Bytes::new())
            } else {
                // A scan reads the cache but does not fill it (one pass over many
                // keys would push out the values point reads keep coming back to).
                match store.cache.get(&e) {
                    Some(v) => Ok(v),
                    None => file.and_then(|f| read_value(&f, &e, &key)),
                }
            };
            let item = value.map(|value| Item {
                key,
                value,
                expiry: e.expiry,
            });
            let failed = item.is_err();
            if !emit(item) || failed {
                return;
            }
            left -= 1;
            if left == 0 {
                return;
            }
        }
    }
}
