//! Raw RocksDB through the `rocksdb` crate, with backend-rocks' default options (LZ4,
//! 64 MiB LRU block cache, 16 MiB write buffer, 2 background jobs) and one column family,
//! no TTL header and no compaction filter.

use bytes::Bytes;
use parking_lot::Mutex;
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, Direction, IteratorMode, Options, ReadOptions,
    WriteBatch, WriteOptions,
};

use crate::subject::{Spec, Subject, consume};

const CF: &str = "bench";

/// A RocksDB database; durable mode sets `WriteOptions::set_sync(true)`. CAS is a
/// process-wide lock around get + put (RocksDB has no native CAS outside transactions).
pub struct RawRocks {
    db: DB,
    write: WriteOptions,
    cas_lock: Mutex<()>,
}

/// backend-rocks' engine settings (64 MiB LRU block cache, LZ4, 16 MiB memtables, two
/// background jobs) for a raw RocksDB opened beside it.
pub fn options() -> Options {
    let cache = Cache::new_lru_cache(64 << 20);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&cache);
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_compression_type(DBCompressionType::Lz4);
    opts.set_write_buffer_size(16 << 20);
    opts.set_block_based_table_factory(&table);
    opts.set_max_background_jobs(2);
    opts.set_keep_log_file_num(4);
    opts
}

impl RawRocks {
    /// The column family (a lookup per call, as backend-rocks does per operation).
    fn cf(&self) -> std::sync::Arc<rocksdb::BoundColumnFamily<'_>> {
        self.db.cf_handle(CF).expect("column family")
    }
}

impl Subject for RawRocks {
    async fn open(spec: &Spec) -> Self {
        let dir = spec.dir.as_deref().expect("raw_rocks needs Spec::dir");
        let db = DB::open_cf(&options(), dir, [CF]).expect("open raw rocksdb");
        let mut write = WriteOptions::default();
        write.set_sync(spec.durable);
        RawRocks {
            db,
            write,
            cas_lock: Mutex::new(()),
        }
    }

    fn name(&self) -> &'static str {
        "raw_rocks"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        let value = self.db.get_pinned_cf(&self.cf(), key).expect("get")?;
        Some(Bytes::copy_from_slice(&value))
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        self.db
            .put_cf_opt(&self.cf(), key, value, &self.write)
            .expect("put");
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        let cf = self.cf();
        consume(
            self.db
                .batched_multi_get_cf(&cf, keys, false)
                .into_iter()
                .filter_map(|r| r.expect("multi_get"))
                .map(|v| Bytes::copy_from_slice(&v)),
        )
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: usize, reverse: bool) -> usize {
        let mut read = ReadOptions::default();
        read.set_iterate_lower_bound(start.to_vec());
        read.set_iterate_upper_bound(end.to_vec());
        let snapshot = self.db.snapshot();
        read.set_snapshot(&snapshot);
        let mode = if reverse {
            IteratorMode::End
        } else {
            IteratorMode::From(start, Direction::Forward)
        };
        consume(
            self.db
                .iterator_cf_opt(&self.cf(), read, mode)
                .take(limit)
                .map(|item| {
                    let (k, v) = item.expect("scan item");
                    (Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v))
                }),
        )
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        let cf = self.cf();
        let mut batch = WriteBatch::default();
        for (k, v) in pairs {
            batch.put_cf(&cf, k, v);
        }
        self.db.write_opt(batch, &self.write).expect("write batch");
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        let _held = self.cas_lock.lock();
        let cf = self.cf();
        let current = self.db.get_pinned_cf(&cf, key).expect("get");
        if current.as_deref() != expected {
            return false;
        }
        drop(current);
        self.db.put_cf_opt(&cf, key, new, &self.write).expect("put");
        true
    }

    async fn conditional_batch(
        &self,
        checks: &[(Bytes, Bytes)],
        writes: &[(Bytes, Bytes)],
    ) -> bool {
        let _held = self.cas_lock.lock();
        let cf = self.cf();
        for (k, v) in checks {
            let current = self.db.get_pinned_cf(&cf, k).expect("get");
            if current.as_deref() != Some(&v[..]) {
                return false;
            }
        }
        let mut batch = WriteBatch::default();
        for (k, v) in writes {
            batch.put_cf(&cf, k, v);
        }
        self.db.write_opt(batch, &self.write).expect("write batch");
        true
    }

    async fn delete_range(&self, start: &[u8], end: &[u8]) {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(&self.cf(), start, end);
        self.db.write_opt(batch, &self.write).expect("delete_range");
    }

    async fn close(&self) {
        self.db.flush_wal(true).expect("flush wal");
    }
}
