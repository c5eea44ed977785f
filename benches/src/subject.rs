//! The one interface the comparison suite drives: [`Subject`], implemented once for every
//! `StorageBackend` (through [`crate::adapter::Adapter`]) and once per raw engine.
//!
//! Which subject runs which workload is the workload table ([`crate::table`]), shared by
//! the bench (which prints every skip) and the report (which shows it), so nothing is
//! skipped silently and both always agree. A subject is never asked to do what the table
//! says it skips.

use std::future::Future;
use std::path::PathBuf;

use bytes::Bytes;

/// Every subject, in report order: the five backends, the null backend, the raw engines.
pub const SUBJECTS: [&str; 12] = [
    "mem",
    "file",
    "rocks",
    "sled",
    "redis",
    "null",
    "raw_btree",
    "raw_dash",
    "raw_log",
    "raw_rocks",
    "raw_sled",
    "raw_redis",
];

/// The five backends behind the trait (the subjects a chart shows).
pub const BACKENDS: [&str; 5] = ["mem", "file", "rocks", "sled", "redis"];

/// The raw engine a backend is measured against, by backend name.
pub fn raw_engine_of(subject: &str) -> Option<&'static str> {
    Some(match subject {
        "mem" => "raw_btree",
        "file" => "raw_log",
        "rocks" => "raw_rocks",
        "sled" => "raw_sled",
        "redis" => "raw_redis",
        _ => return None,
    })
}

/// How to open a subject.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The subject name (one of [`SUBJECTS`]); the adapter uses it to pick the backend.
    pub name: &'static str,
    /// Directory of a persistent store (reopening the same directory recovers it).
    pub dir: Option<PathBuf>,
    /// Open with the strongest sync setting: every acknowledged write is on stable
    /// storage (file `SyncPolicy::Always`, RocksDB sync writes, sled flush after each
    /// write, redis on a server with `appendfsync always`).
    pub durable: bool,
    /// URL of the redis server the redis subjects use.
    pub redis_url: Option<String>,
}

impl Spec {
    /// A spec for `name` with no directory, not durable, no redis server.
    pub fn new(name: &'static str) -> Self {
        Spec {
            name,
            dir: None,
            durable: false,
            redis_url: None,
        }
    }
}

/// A store the workloads can drive: a backend through the trait, or a raw engine doing
/// the same work directly.
///
/// Every method panics if the store reports an error: a benchmark that fails is a bug to
/// see at once, never a figure. Futures are `Send` so workloads can spawn tasks.
pub trait Subject: Send + Sync + Sized + 'static {
    /// Opens (or, on an existing directory, recovers) the store `spec` describes.
    fn open(spec: &Spec) -> impl Future<Output = Self> + Send;

    /// The subject name for reports (one of [`SUBJECTS`]).
    fn name(&self) -> &'static str;

    /// False for a subject that keeps nothing (the null backend): workloads then skip
    /// their result checks.
    fn stores(&self) -> bool {
        true
    }

    /// The value of `key`.
    fn get(&self, key: &[u8]) -> impl Future<Output = Option<Bytes>> + Send;

    /// Sets `key` to `value` (durably when opened durable).
    fn put(&self, key: &[u8], value: &[u8]) -> impl Future<Output = ()> + Send;

    /// Looks up every key in one call; returns how many were present.
    fn get_many(&self, keys: &[Bytes]) -> impl Future<Output = usize> + Send;

    /// Visits every pair in `[start, end)`, at most `limit`, descending when `reverse`;
    /// returns how many it visited.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> impl Future<Output = usize> + Send;

    /// Writes every pair at once (atomically where the engine can).
    fn batch(&self, pairs: &[(Bytes, Bytes)]) -> impl Future<Output = ()> + Send;

    /// Sets `key` to `new` if it holds `expected` (`None`: absent); true if it did.
    fn cas(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> impl Future<Output = bool> + Send;

    /// Writes every pair of `writes` only if every `(key, value)` of `checks` still
    /// holds, as one atomic step; true if it did.
    fn conditional_batch(
        &self,
        checks: &[(Bytes, Bytes)],
        writes: &[(Bytes, Bytes)],
    ) -> impl Future<Output = bool> + Send;

    /// Removes every key in `[start, end)` as one atomic step.
    fn delete_range(&self, start: &[u8], end: &[u8]) -> impl Future<Output = ()> + Send;

    /// Makes every write durable and closes the store: files and locks are released; a
    /// redis subject's connection stays open until the subject is dropped.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// Consumes `items`, passing each through `black_box` so none is optimised away;
/// returns how many there were.
pub fn consume<T>(items: impl Iterator<Item = T>) -> usize {
    let mut n = 0;
    for item in items {
        std::hint::black_box(item);
        n += 1;
    }
    n
}
