//! Range scans: a RocksDB snapshot and a bounded iterator, streamed a chunk at a time
//! from a blocking thread.

use std::pin::Pin;
use std::sync::Arc;

use backend_api::{EntryStream, Error, KvStream, Partition, Result, ScanRange};
use backend_support::{blocking_copy_stream, live_header, ttl};
use futures_util::StreamExt;
use rocksdb::ReadOptions;

use crate::engine::{CfName, Engine};
use crate::error::rocks_err;

/// Streams the live pairs of `partition` in `range` (which must not be empty) from a
/// snapshot taken before this returns: writes made after the call never show.
///
/// The snapshot, the iterator and the walk all live on one blocking thread (they borrow
/// the database); this waits until that thread has sent its first chunk (or finished),
/// so it holds the snapshot. Waiting for the first chunk rather than for a separate
/// "snapshot taken" signal saves one wake-up of the caller's thread per scan; the
/// first chunk is what the caller waits for next anyway. Bounds go into the
/// read options, so RocksDB never visits keys outside the range in either direction.
/// Pairs are copied out of the iterator into one buffer per chunk and become `Bytes`
/// on the consumer's thread ([`blocking_copy_stream`]).
pub(crate) async fn scan_cf(
    db: Arc<Engine>,
    partition: Partition,
    range: ScanRange,
) -> Result<KvStream> {
    walk(db, partition, range, false).await
}

/// [`scan_cf`] with each key's deadline: the walk hands over the stored bytes with
/// their TTL header (the header alone under `keys_only`), which the consumer's side
/// splits into the entry's deadline and value without a second copy.
pub(crate) async fn scan_entries_cf(
    db: Arc<Engine>,
    partition: Partition,
    range: ScanRange,
) -> Result<EntryStream> {
    let stream = walk(db, partition, range, true).await?;
    Ok(stream
        .map(|item| item.and_then(|(key, stored)| ttl::entry(key, stored)))
        .boxed())
}

/// The walk behind both: live pairs, the value with its TTL header when `with_header`.
async fn walk(
    db: Arc<Engine>,
    partition: Partition,
    range: ScanRange,
    with_header: bool,
) -> Result<KvStream> {
    let stream = blocking_copy_stream(move |emit| {
        let snapshot = db.snapshot();
        let Some(cf) = db.cf_handle(CfName::new(&partition).as_str()) else {
            emit(Err(Error::PartitionNotFound(partition.name().to_owned())));
            return;
        };
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
            let live = match live_header(stored) {
                Ok(live) => live,
                Err(e) => {
                    emit(Err(e));
                    return;
                }
            };
            if let Some((header_len, _)) = live {
                let value = match (range.keys_only, with_header) {
                    (false, false) => &stored[header_len..],
                    (false, true) => stored,
                    (true, false) => &[][..],
                    (true, true) => &stored[..header_len],
                };
                left -= 1;
                if !emit(Ok((key, value))) || left == 0 {
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
    let mut stream = stream.peekable();
    // A first item that is an error (the partition was dropped meanwhile) is the
    // scan's answer rather than a stream item.
    if matches!(Pin::new(&mut stream).peek().await, Some(Err(_)))
        && let Some(Err(e)) = stream.next().await
    {
        return Err(e);
    }
    Ok(stream.boxed())
}
