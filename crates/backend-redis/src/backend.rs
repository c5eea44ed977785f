//! `RedisBackend` and its `StorageBackend` implementation: the trait adapter. Calls
//! go through `calls`, key names come from `layout`, scripts from `scripts`, batches
//! are planned by `batch`, partitions kept by `registry`, scans paged by `scan`.

use std::sync::Arc;
use std::time::Duration;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, Check, EntryStream, Error, KvStream, Operation, Partition,
    PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use redis::Value;

use crate::batch::{self, ttl_arg};
use crate::calls::Calls;
use crate::config::RedisConfig;
use crate::error::{NAME, Server, not_found};
use crate::layout::{Layout, PartitionKeys};
use crate::registry::{self, Registry};
use crate::scripts::evalsha;
use crate::{conn, scan, sharded, status, watch};

/// Times a batch with range deletes reads its ranges and runs before giving up because
/// concurrent writers kept changing them.
const RANGE_ATTEMPTS: usize = 8;

/// A [`StorageBackend`] on a Redis server (7.0 or later).
///
/// Cheap to share behind an `Arc`; every call goes through one multiplexed connection
/// that reconnects by itself, and each `watch` opens its own pub/sub connection.
/// See the crate docs for the layout, the capabilities and the failure behaviour.
pub struct RedisBackend {
    calls: Arc<Calls>,
    /// Opens the pub/sub connections of watches.
    client: redis::Client,
    config: RedisConfig,
    capabilities: Capabilities,
    layout: Layout,
    /// How the write scripts publish events.
    publish: batch::Publish,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("server", &self.calls.server)
            .field("namespace", &self.config.namespace)
            .field("closed", &self.calls.is_closed())
            .finish()
    }
}

impl RedisBackend {
    /// Connects to the server in `config` and loads the scripts.
    ///
    /// No server: `Error::Unavailable` naming the server (after one quick retry, within
    /// `connect_timeout`). Credentials or TLS certificate refused: `Error::InvalidConfig`.
    /// A bad URL or namespace: `Error::InvalidConfig`.
    pub async fn open(config: RedisConfig) -> Result<RedisBackend> {
        config.validate()?;
        let server = Server::of(&config);
        let (client, conn) = conn::connect(&config, &server).await?;
        let calls = Calls::new(conn, server, &config);
        calls.load_scripts().await?;
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Ok(RedisBackend {
            calls: Arc::new(calls),
            client,
            capabilities: config.capabilities(),
            layout: Layout::with_colocation(
                &config.namespace,
                config.is_cluster() && config.colocate_partitions,
            ),
            // A cluster publishes on the partition's sharded channel always: after a
            // failover a watch may sit on a replica of the shard (which still gets
            // the message), where the master's `SHARDNUMSUB` does not count it.
            publish: if config.is_cluster() {
                batch::Publish {
                    command: "SPUBLISH",
                    count: "",
                }
            } else {
                batch::Publish {
                    command: "PUBLISH",
                    count: "NUMSUB",
                }
            },
            config,
            shutdown,
        })
    }

    /// The configuration this handle was opened with.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    fn keys(&self, partition: &Partition) -> PartitionKeys {
        self.layout.partition(partition)
    }

    fn registry(&self) -> Registry<'_> {
        Registry {
            calls: &self.calls,
            layout: &self.layout,
            // On a cluster whose partitions have their own slots, the registry is in
            // another slot than the markers.
            split: self.config.is_cluster() && !self.config.colocate_partitions,
            publish: self.publish.command,
        }
    }

    /// `put_with` as an inherent method, so `put` awaits it without boxing a second future.
    async fn put_inner(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.calls.check_open()?;
        self.capabilities.check_key(key)?;
        self.capabilities.check_value(value)?;
        if options.ttl == Some(Duration::ZERO) {
            // A deadline already past: the put acts as a delete of any older value.
            return self.delete_inner(partition, key).await;
        }
        let keys = self.keys(partition);
        let script = &self.calls.scripts.put;
        let mut cmd = evalsha(script, 3);
        cmd.arg(&keys.marker)
            .arg(keys.value(key))
            .arg(&keys.index)
            .arg(key)
            .arg(value)
            .arg(ttl_arg(options.ttl))
            .arg(&keys.channel)
            .arg(self.publish.command)
            .arg(self.publish.count);
        let done: i64 = self.calls.eval_write("put", script, &cmd).await?;
        found(done, partition)
    }

    async fn delete_inner(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        let keys = self.keys(partition);
        let script = &self.calls.scripts.delete;
        let mut cmd = evalsha(script, 3);
        cmd.arg(&keys.marker)
            .arg(keys.value(key))
            .arg(&keys.index)
            .arg(key)
            .arg(&keys.channel)
            .arg(self.publish.command)
            .arg(self.publish.count);
        let done: i64 = self.calls.eval_write("delete", script, &cmd).await?;
        found(done, partition)
    }

    /// Runs validated `checks` and `operations` (at least one of either) as one call of
    /// the write script and reads its answer.
    async fn write(
        &self,
        operation: &'static str,
        checks: &[Check],
        operations: &[Operation],
    ) -> Result<BatchOutcome> {
        // A range delete's value keys are named to the script: read each range, and
        // read again if it changed before the script ran (a writer raced it).
        for _ in 0..RANGE_ATTEMPTS {
            let ranges = batch::read_ranges(&self.calls, &self.layout, operations).await?;
            let plan = batch::plan(
                &self.layout,
                &self.calls.scripts,
                self.publish,
                checks,
                operations,
                &ranges,
            );
            let reply: Vec<Value> = self
                .calls
                .eval_write(operation, &self.calls.scripts.write, &plan.cmd)
                .await?;
            if let Some(outcome) = plan.outcome(operation, checks.len(), reply)? {
                return Ok(outcome);
            }
        }
        Err(Error::unavailable(
            format!(
                "{operation}: a range delete's range kept changing under concurrent writes \
                 ({RANGE_ATTEMPTS} attempts); nothing was written, try again"
            ),
            None,
        ))
    }

    /// `Unsupported` when `checks` and `operations` name two partitions and batches may
    /// not span partitions (a cluster with a slot per partition): first in the order of
    /// errors, before anything is read or written.
    fn check_span(&self, checks: &[Check], operations: &[Operation]) -> Result<()> {
        if self.capabilities.cross_partition_batch {
            return Ok(());
        }
        let mut named = checks
            .iter()
            .map(|c| &c.partition)
            .chain(operations.iter().map(Operation::partition));
        let Some(first) = named.next() else {
            return Ok(());
        };
        if named.all(|p| p == first) {
            return Ok(());
        }
        Err(Error::unsupported(
            NAME,
            "a batch or conditional batch across partitions on Redis Cluster (each \
             partition has its own slot; open with RedisConfig::colocate_partitions(true) \
             to put the namespace in one slot)",
        ))
    }
}

/// `Ok` when a write script answered 1, `PartitionNotFound` when it answered 0.
fn found(done: i64, partition: &Partition) -> Result<()> {
    if done == 0 {
        Err(not_found(partition))
    } else {
        Ok(())
    }
}

impl RedisBackend {
    /// A scan of `partition` over `range`, once the handle is open and `range` valid.
    fn walk(&self, partition: &Partition, range: &ScanRange) -> Result<scan::Walk> {
        self.calls.check_open()?;
        self.capabilities.check_scan_range(range)?;
        Ok(scan::Walk {
            calls: self.calls.clone(),
            partition: partition.clone(),
            keys: self.keys(partition),
            page: self.config.scan_page,
        })
    }
}

#[async_trait]
impl StorageBackend for RedisBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        self.calls.check_open()?;
        self.registry().create(partition).await
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        self.calls.check_open()?;
        self.registry().drop(partition).await
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        self.calls.check_open()?;
        self.registry().exists(partition).await
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.calls.check_open()?;
        self.registry().list().await
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.calls.check_open()?;
        self.capabilities.check_key(key)?;
        let keys = self.keys(partition);
        // Value and marker in one command (they share a slot): a miss needs no second
        // round trip to tell "absent" from "no such partition".
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys.value(key)).arg(&keys.marker);
        let (value, marker): (Option<Bytes>, Option<Bytes>) = self.calls.query("get", &cmd).await?;
        if marker.is_none() {
            return Err(not_found(partition));
        }
        Ok(value)
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.calls.check_open()?;
        for key in keys {
            self.capabilities.check_key(key)?;
        }
        let pkeys = self.keys(partition);
        if keys.is_empty() {
            registry::require(&self.calls, partition, &pkeys).await?;
            return Ok(Vec::new());
        }
        let names: Vec<Vec<u8>> = keys.iter().map(|k| pkeys.value(k)).collect();
        let mut pipe = redis::pipe();
        pipe.exists(&pkeys.marker);
        pipe.cmd("MGET").arg(&names);
        let (found, values): (bool, Vec<Option<Bytes>>) =
            self.calls.query_pipe("get_many", &pipe).await?;
        if !found {
            return Err(not_found(partition));
        }
        if values.len() != keys.len() {
            return Err(Error::backend(
                NAME,
                format!(
                    "MGET of {} keys answered {} values",
                    keys.len(),
                    values.len()
                ),
            ));
        }
        Ok(values)
    }

    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        self.calls.check_open()?;
        self.capabilities.check_key(key)?;
        let keys = self.keys(partition);
        let mut pipe = redis::pipe();
        pipe.exists(keys.value(key)).exists(&keys.marker);
        let (exists, marker): (bool, bool) = self.calls.query_pipe("exists", &pipe).await?;
        if !marker {
            return Err(not_found(partition));
        }
        Ok(exists)
    }

    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        // The inherent helper, not `put_with`: one boxed future per call, not two.
        self.put_inner(partition, key, value, PutOptions::default())
            .await
    }

    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.put_inner(partition, key, value, options).await
    }

    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        self.calls.check_open()?;
        self.capabilities.check_key(key)?;
        self.delete_inner(partition, key).await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        self.walk(partition, &range)?.pairs(&range).await
    }

    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.walk(partition, &range)?.entries(&range).await
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        self.check_span(&[], &operations)?;
        self.calls.check_open()?;
        for op in &operations {
            self.capabilities.check_operation(op, NAME)?;
        }
        if operations.is_empty() {
            return Ok(());
        }
        match self.write("batch", &[], &operations).await? {
            BatchOutcome::Applied => Ok(()),
            other => Err(Error::backend(
                NAME,
                format!("the batch script answered {other:?} without checks"),
            )),
        }
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        self.check_span(&checks, &operations)?;
        self.calls.check_open()?;
        for check in &checks {
            self.capabilities.check_check(check)?;
        }
        for op in &operations {
            self.capabilities.check_operation(op, NAME)?;
        }
        if checks.is_empty() && operations.is_empty() {
            return Ok(BatchOutcome::Applied);
        }
        self.write("conditional_batch", &checks, &operations).await
    }

    // `compare_and_swap` is the trait's default: the one-key conditional batch, through
    // the same script (one code path for every conditional write).

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        if !self.capabilities.watch {
            return Err(Error::unsupported(NAME, "watch on Redis Cluster"));
        }
        self.calls.check_open()?;
        self.capabilities.check_prefix(prefix)?;
        let keys = self.keys(partition);
        registry::require(&self.calls, partition, &keys).await?;
        let prefix = Bytes::copy_from_slice(prefix);
        let stream = if self.config.is_cluster() {
            sharded::subscribe(
                conn::cluster_builder(&self.config),
                keys.channel.clone(),
                prefix,
                self.config.watch_capacity,
                &self.calls.server,
                self.calls.deadline,
                self.shutdown.subscribe(),
            )
            .await?
        } else {
            watch::subscribe(
                &self.client,
                keys.channel.clone(),
                prefix,
                self.config.watch_capacity,
                &self.calls.server,
                self.calls.deadline,
                self.shutdown.subscribe(),
            )
            .await?
        };
        // The partition may have been dropped between the check and the subscription.
        registry::require(&self.calls, partition, &keys).await?;
        Ok(stream)
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        self.calls.check_open()?;
        scan::size(
            &self.calls,
            partition,
            &self.keys(partition),
            self.config.scan_page,
        )
        .await
    }

    async fn flush(&self) -> Result<()> {
        // Durability is the server's (AOF/RDB settings); this checks it is reachable.
        self.calls.check_open()?;
        self.calls
            .query::<String>("flush", &redis::cmd("PING"))
            .await?;
        Ok(())
    }

    async fn status(&self) -> Result<Status> {
        self.calls.check_open()?;
        let partitions = self.registry().list().await?;
        status::collect(
            &self.calls,
            &self.layout,
            &self.config.namespace,
            &partitions,
        )
        .await
    }

    async fn close(&self) -> Result<()> {
        if self.calls.close() {
            let _ = self.shutdown.send(true);
        }
        Ok(())
    }
}
