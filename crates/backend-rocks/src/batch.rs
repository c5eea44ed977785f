//! Conditional batches on RocksDB: the column families a batch names, read under the
//! committer's locks ([`LockedView`]), and the planned writes as one `WriteBatch`.

use std::sync::Arc;

use backend_api::{Bytes, KeyRange, Partition, Result};
use backend_support::{LockedView, Write, live_value};
use rocksdb::{BoundColumnFamily, DB, ReadOptions, WriteBatch, WriteOptions};

use crate::engine::CfName;
use crate::error::{not_found, rocks_err};

/// The distinct column families of one batch, in order of first mention.
pub(crate) struct Families<'a, 'db> {
    db: &'db DB,
    families: Vec<(&'a Partition, Arc<BoundColumnFamily<'db>>)>,
    /// The upper bound of a range delete whose end is open: longer than any key, and
    /// all `0xFF`, so above every key.
    above_every_key: Vec<u8>,
}

impl<'a, 'db> Families<'a, 'db> {
    /// Resolves every partition of `named` (`PartitionNotFound` for the first missing).
    pub(crate) fn resolve(
        db: &'db DB,
        named: impl Iterator<Item = &'a Partition>,
        max_key_len: usize,
    ) -> Result<Self> {
        let mut families: Vec<(&'a Partition, Arc<BoundColumnFamily<'db>>)> = Vec::new();
        for partition in named {
            if families.iter().all(|(p, _)| *p != partition) {
                let cf = db
                    .cf_handle(CfName::new(partition).as_str())
                    .ok_or_else(|| not_found(partition))?;
                families.push((partition, cf));
            }
        }
        Ok(Families {
            db,
            families,
            above_every_key: vec![0xFF; max_key_len + 1],
        })
    }

    fn cf(&self, partition: &Partition) -> Result<&Arc<BoundColumnFamily<'db>>> {
        self.families
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, cf)| cf)
            .ok_or_else(|| not_found(partition))
    }

    /// Writes `writes` as one `WriteBatch`, in order. A range delete is RocksDB's own
    /// `DeleteRange` (one tombstone, whatever the range's size); entries of one batch
    /// take increasing sequence numbers, so a put after it in the batch survives it and
    /// a put before it does not. An open start is the empty key (below every key), an
    /// open end a key above every key.
    pub(crate) fn commit(&self, writes: &[Write<'_>], options: &WriteOptions) -> Result<()> {
        let mut batch = WriteBatch::default();
        for write in writes {
            match write {
                Write::Put {
                    partition,
                    key,
                    stored,
                    ..
                } => {
                    let cf = self.cf(partition)?;
                    stored.with_bytes(|bytes| batch.put_cf(cf, key, bytes));
                }
                Write::Delete { partition, key, .. } => batch.delete_cf(self.cf(partition)?, key),
                Write::DeleteRange {
                    partition, range, ..
                } => {
                    let start = range.start.as_deref().unwrap_or(&[]);
                    let end = range.end.as_deref().unwrap_or(&self.above_every_key);
                    batch.delete_range_cf(self.cf(partition)?, start, end);
                }
            }
        }
        self.db.write_opt(batch, options).map_err(rocks_err)
    }
}

impl LockedView for Families<'_, '_> {
    fn live_value(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        match self
            .db
            .get_pinned_cf(self.cf(partition)?, key)
            .map_err(rocks_err)?
        {
            None => Ok(None),
            Some(stored) => Ok(live_value(&stored)?.map(Bytes::copy_from_slice)),
        }
    }

    fn is_live(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        match self
            .db
            .get_pinned_cf(self.cf(partition)?, key)
            .map_err(rocks_err)?
        {
            None => Ok(false),
            Some(stored) => Ok(live_value(&stored)?.is_some()),
        }
    }

    /// One bounded iterator over the range, stopping at the first live key not
    /// skipped: keys the range tombstones of earlier batches cover are invisible to it,
    /// expired values are passed over.
    fn any_live(
        &self,
        partition: &Partition,
        range: &KeyRange,
        skip: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<bool> {
        let mut opts = ReadOptions::default();
        if let Some(start) = &range.start {
            opts.set_iterate_lower_bound(start.to_vec());
        }
        if let Some(end) = &range.end {
            opts.set_iterate_upper_bound(end.to_vec());
        }
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(partition)?, opts);
        iter.seek_to_first();
        while let Some((key, stored)) = iter.item() {
            if !skip(key) && live_value(stored)?.is_some() {
                return Ok(true);
            }
            iter.next();
        }
        iter.status().map_err(rocks_err)?;
        Ok(false)
    }
}
