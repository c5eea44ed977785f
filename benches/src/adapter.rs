//! [`Adapter`]: every `StorageBackend` (mem, file, rocks, sled, redis, null) as a
//! [`Subject`], through `Arc<dyn StorageBackend>`: the path a user's code takes.

use std::sync::Arc;

use backend_api::{
    BatchOutcome, Bytes, CasOutcome, Check, KeyRange, Operation, Partition, ScanRange,
    StorageBackend,
};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use backend_mem::{MemBackend, MemConfig};
use backend_redis::{RedisBackend, RedisConfig};
use backend_rocks::{RocksBackend, RocksConfig};
use backend_sled::{SledBackend, SledConfig};
use futures_util::StreamExt;

use crate::null::NullBackend;
use crate::subject::{Spec, Subject};

/// The partition every workload uses.
pub const PARTITION: &str = "bench";

/// A backend behind the trait, each opened with its defaults except the sync setting
/// in durable mode (file `SyncPolicy::Always`, rocks `sync_writes`, sled a `flush()`
/// after every write: sled has no per-write sync; redis: the server decides).
pub struct Adapter {
    backend: Arc<dyn StorageBackend>,
    partition: Partition,
    name: &'static str,
    flush_each_write: bool,
}

impl Adapter {
    /// The backend itself.
    pub fn backend(&self) -> &Arc<dyn StorageBackend> {
        &self.backend
    }

    async fn after_write(&self) {
        if self.flush_each_write {
            self.backend.flush().await.expect("flush");
        }
    }
}

fn dir(spec: &Spec) -> &std::path::Path {
    spec.dir
        .as_deref()
        .expect("a persistent backend needs Spec::dir")
}

impl Subject for Adapter {
    async fn open(spec: &Spec) -> Self {
        let backend: Arc<dyn StorageBackend> = match spec.name {
            "null" => Arc::new(NullBackend),
            "mem" => Arc::new(MemBackend::open(MemConfig::new()).await.expect("open mem")),
            "file" => {
                let mut config = FileConfig::new(dir(spec));
                if spec.durable {
                    config = config.sync_policy(SyncPolicy::Always);
                }
                Arc::new(FileBackend::open(config).await.expect("open file"))
            }
            "rocks" => {
                let config = RocksConfig::new(dir(spec)).sync_writes(spec.durable);
                Arc::new(RocksBackend::open(config).await.expect("open rocks"))
            }
            "sled" => Arc::new(
                SledBackend::open(SledConfig::new(dir(spec)))
                    .await
                    .expect("open sled"),
            ),
            "redis" => {
                let url = spec
                    .redis_url
                    .as_deref()
                    .expect("redis needs Spec::redis_url");
                let config = RedisConfig::new(url)
                    .namespace("cmp")
                    .response_timeout(crate::REDIS_RESPONSE_TIMEOUT);
                Arc::new(RedisBackend::open(config).await.expect("open redis"))
            }
            other => panic!("no backend named {other:?}"),
        };
        let partition = Partition::new(PARTITION).expect("partition name");
        backend
            .create_partition(&partition)
            .await
            .expect("create partition");
        Adapter {
            backend,
            partition,
            name: spec.name,
            flush_each_write: spec.durable && spec.name == "sled",
        }
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn stores(&self) -> bool {
        self.name != "null"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.backend.get(&self.partition, key).await.expect("get")
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        self.backend
            .put(&self.partition, key, value)
            .await
            .expect("put");
        self.after_write().await;
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        let values = self
            .backend
            .get_many(&self.partition, keys)
            .await
            .expect("get_many");
        values.iter().filter(|v| v.is_some()).count()
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: usize, reverse: bool) -> usize {
        let mut range =
            ScanRange::between(Bytes::copy_from_slice(start), Bytes::copy_from_slice(end))
                .limit(limit);
        if reverse {
            range = range.reverse();
        }
        let mut stream = self
            .backend
            .scan(&self.partition, range)
            .await
            .expect("scan");
        let mut n = 0;
        while let Some(item) = stream.next().await {
            std::hint::black_box(item.expect("scan item"));
            n += 1;
        }
        n
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        let ops = pairs
            .iter()
            .map(|(k, v)| Operation::put(&self.partition, k.clone(), v.clone()))
            .collect();
        self.backend.batch(ops).await.expect("batch");
        self.after_write().await;
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        let outcome = self
            .backend
            .compare_and_swap(&self.partition, key, expected, Some(new))
            .await
            .expect("compare_and_swap");
        let swapped = matches!(outcome, CasOutcome::Swapped);
        if swapped {
            self.after_write().await;
        }
        swapped
    }

    async fn conditional_batch(
        &self,
        checks: &[(Bytes, Bytes)],
        writes: &[(Bytes, Bytes)],
    ) -> bool {
        let p = &self.partition;
        let checks = checks
            .iter()
            .map(|(k, v)| Check::equals(p, k.clone(), v.clone()))
            .collect();
        let ops = writes
            .iter()
            .map(|(k, v)| Operation::put(p, k.clone(), v.clone()))
            .collect();
        let outcome = self
            .backend
            .conditional_batch(checks, ops)
            .await
            .expect("conditional_batch");
        let applied = matches!(outcome, BatchOutcome::Applied);
        if applied {
            self.after_write().await;
        }
        applied
    }

    async fn delete_range(&self, start: &[u8], end: &[u8]) {
        let range = KeyRange::between(Bytes::copy_from_slice(start), Bytes::copy_from_slice(end));
        let op = Operation::delete_range(&self.partition, range);
        self.backend.batch(vec![op]).await.expect("range delete");
        self.after_write().await;
    }

    async fn close(&self) {
        self.backend.close().await.expect("close");
    }
}
