//! Range scans: a RocksDB snapshot and a bounded iterator, streamed a chunk at a time
//! from a blocking thread.

use std::sync::Arc;

use backend_api::{Bytes, Error, KvStream, Partition, Result, ScanRange};
use backend_support::blocking_stream;
use rocksdb::ReadOptions;

use crate::engine::{CfName, Engine};
use crate::error::{NAME, rocks_err};
use crate::value::live_value;

/// Streams the live pairs of `partition` in `range` (which must not be empty) from a
/// snapshot taken before this returns: writes made after the call never show.
///
/// The snapshot, the iterator and the walk all live on one blocking thread (they borrow
/// the database); this waits until that thread holds the snapshot. Bounds go into the
/// read options, so RocksDB never visits keys outside the range in either direction.
pub(crate) async fn scan_cf(
    db: Arc<Engine>,
    partition: Partition,
    range: ScanRange,
) -> Result<KvStream> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<()>>();
    let stream = blocking_stream(move |emit| {
        let snapshot = db.snapshot();
        let Some(cf) = db.cf_handle(CfName::new(&partition).as_str()) else {
            let _ = ready_tx.send(Err(Error::PartitionNotFound(partition.name().to_owned())));
            return;
        };
        let _ = ready_tx.send(Ok(()));
        let mut opts = ReadOptions::default();
        if let Some(lower) = range.lower() {
            opts.set_iterate_lower_bound(lower.to_vec());
        }
        if let Some(upper) = range.upper() {
            opts.set_iterate_upper_bound(upper.to_vec());
        }
        let mut iter = snapshot.raw_iterator_cf_opt(&cf, opts);
        if range.reverse {
            iter.seek_to_last();
        } else {
            iter.seek_to_first();
        }
        let mut left = range.limit.unwrap_or(usize::MAX);
        while let Some((key, stored)) = iter.item() {
            let live = match live_value(stored) {
                Ok(live) => live,
                Err(e) => {
                    emit(Err(e));
                    return;
                }
            };
            if let Some(value) = live {
                let value = if range.keys_only {
                    Bytes::new()
                } else {
                    Bytes::copy_from_slice(value)
                };
                left -= 1;
                if !emit(Ok((Bytes::copy_from_slice(key), value))) || left == 0 {
                    return;
                }
            }
            if range.reverse {
                iter.prev();
            } else {
                iter.next();
            }
        }
        if let Err(e) = iter.status() {
            emit(Err(rocks_err(e)));
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::backend(
            NAME,
            "the scan thread ended before taking its snapshot",
        )),
    }
}
