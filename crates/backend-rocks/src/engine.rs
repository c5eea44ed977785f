//! Opening RocksDB: database and column-family options, the TTL compaction filter,
//! partition <-> column-family names.

use std::time::{Duration, Instant};

use backend_api::{Error, Partition, Result};
use backend_support::ttl;
use rocksdb::compaction_filter::Decision;
use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, Options};

use crate::error::{io_err_at, is_lock_error, rocks_err, rocks_err_at};
use crate::{RocksCompression, RocksConfig};

/// Prefix of the column families that hold partitions. `:` never occurs in a partition
/// name, so RocksDB's own `default` family never collides with a partition, even one
/// named `default`.
pub(crate) const CF_PREFIX: &str = "p:";

/// Name of the TTL compaction filter (RocksDB records it in its OPTIONS file).
const TTL_FILTER: &str = "kv_ttl_expiry";

/// How long `open` keeps retrying while the store's `LOCK` is still held (by a handle
/// being closed, or a scan thread that has not yet noticed its stream was dropped).
const LOCK_WAIT: Duration = Duration::from_secs(5);
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// A column-family name built on the stack: no allocation on the hot path.
pub(crate) struct CfName {
    buf: [u8; CF_PREFIX.len() + backend_api::MAX_PARTITION_NAME_LEN],
    len: usize,
}

impl CfName {
    pub(crate) fn new(partition: &Partition) -> Self {
        let mut buf = [0u8; CF_PREFIX.len() + backend_api::MAX_PARTITION_NAME_LEN];
        let name = partition.name().as_bytes();
        let len = CF_PREFIX.len() + name.len();
        buf[..CF_PREFIX.len()].copy_from_slice(CF_PREFIX.as_bytes());
        buf[CF_PREFIX.len()..len].copy_from_slice(name);
        CfName { buf, len }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Both parts are ASCII by construction (partition names are [A-Za-z0-9_]).
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The partition a column family holds, or `None` for RocksDB's own families.
pub(crate) fn partition_of(cf: &str) -> Option<Result<Partition>> {
    let name = cf.strip_prefix(CF_PREFIX)?;
    Some(
        Partition::parse(name).map_err(|_| {
            Error::corruption(format!("column family {cf:?} is not a partition name"))
        }),
    )
}

/// Drops values whose TTL deadline has passed. RocksDB turns a removal into a
/// deletion marker unless the output is the bottommost level, so no older version of
/// the key can resurface. Undecodable values are kept (reads report them as corrupt).
fn expire(_level: u32, _key: &[u8], value: &[u8]) -> Decision {
    match ttl::decode(value) {
        Ok((deadline, _)) if ttl::is_expired(deadline, ttl::now_ms()) => Decision::Remove,
        _ => Decision::Keep,
    }
}

/// Options shared by every column family: compression, block cache, TTL filter.
fn cf_options(config: &RocksConfig, cache: &Cache) -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(match config.compression {
        RocksCompression::None => DBCompressionType::None,
        RocksCompression::Lz4 => DBCompressionType::Lz4,
    });
    opts.set_write_buffer_size(config.write_buffer_bytes);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    opts.set_block_based_table_factory(&table);
    opts.set_compaction_filter(TTL_FILTER, expire);
    opts
}

/// Database-wide options (plus the column-family ones, which apply to `default`).
fn db_options(config: &RocksConfig, cache: &Cache) -> Options {
    let mut opts = cf_options(config, cache);
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_background_jobs(2);
    opts.set_keep_log_file_num(4);
    opts
}

/// The database plus the column-family options every runtime-created family uses.
///
/// `DB::create_cf` copies the options into RocksDB but not what they point to: the
/// compaction filter is owned by the Rust `Options` and RocksDB keeps a raw pointer to
/// it. So one `Options` serves every `create_cf` and lives exactly as long as the
/// database: `db` is declared first, so it is closed before `cf_options` is dropped.
pub(crate) struct Engine {
    db: DB,
    cf_options: Options,
}

impl Engine {
    /// Creates a partition's column family with the shared options.
    pub(crate) fn create_cf(&self, name: &str) -> Result<()> {
        self.db.create_cf(name, &self.cf_options).map_err(rocks_err)
    }
}

impl std::ops::Deref for Engine {
    type Target = DB;

    fn deref(&self) -> &DB {
        &self.db
    }
}

/// Opens the database with every column family it has (returned with it), retrying
/// while its `LOCK` is held for up to [`LOCK_WAIT`].
pub(crate) fn open_db(config: &RocksConfig, cache: &Cache) -> Result<(Engine, Vec<String>)> {
    let opts = db_options(config, cache);
    let exists = config.path.join("CURRENT").exists();
    // Created here, not by the `rocksdb` crate, which turns the OS error into a string.
    std::fs::create_dir_all(&config.path).map_err(|e| io_err_at("create", &config.path, e))?;
    let started = Instant::now();
    loop {
        let names = if exists {
            DB::list_cf(&opts, &config.path).map_err(|e| rocks_err_at("open", &config.path, e))?
        } else {
            vec![rocksdb::DEFAULT_COLUMN_FAMILY_NAME.to_owned()]
        };
        let families = names
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(name, cf_options(config, cache)));
        match DB::open_cf_descriptors(&opts, &config.path, families) {
            Ok(db) => {
                let cf_options = cf_options(config, cache);
                return Ok((Engine { db, cf_options }, names));
            }
            Err(e) if is_lock_error(&e) && started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(LOCK_RETRY);
            }
            Err(e) => return Err(rocks_err_at("open", &config.path, e)),
        }
    }
}
