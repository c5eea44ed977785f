//! `RedisBackend` and its `StorageBackend` implementation.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, Check, Error, KvStream, Operation, Partition, PutOptions,
    Result, ScanRange, Status, StorageBackend, WatchStream, async_trait,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind, Value};

use crate::config::RedisConfig;
use crate::conn::Conn;
use crate::error::{self, NAME};
use crate::layout::{Layout, PartitionKeys};
use crate::scripts::{Scripts, evalsha};
use crate::{batch, scan, watch};

/// Longest TTL sent to the server, in ms (about 142,000 years): longer ones are clamped.
const MAX_TTL_MS: u128 = 1 << 52;

/// A [`StorageBackend`] on a Redis server (7.0 or later).
///
/// Cheap to share behind an `Arc`; every call goes through one multiplexed connection
/// that reconnects by itself, and each `watch` opens its own pub/sub connection.
/// See the crate docs for the layout, the capabilities and the failure behaviour.
pub struct RedisBackend {
    inner: Arc<Inner>,
}

/// State shared with scan streams.
pub(crate) struct Inner {
    pub client: redis::Client,
    pub conn: Conn,
    pub config: RedisConfig,
    pub layout: Layout,
    pub scripts: Scripts,
    /// How the write scripts publish events.
    pub publish: batch::Publish,
    /// Longest a call may take: a reconnect plus a response.
    pub deadline: Duration,
    closed: AtomicBool,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    /// True on a cluster whose partitions have their own slots: the registry is in
    /// another slot, so create and drop touch it with a separate command.
    pub fn split_registry(&self) -> bool {
        self.config.is_cluster() && !self.config.colocate_partitions
    }

    /// `Error::Closed` after `close`.
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Runs one server call under the deadline, mapping its error.
    pub async fn run<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(error::map(err, operation, self.config.response_timeout)),
            Err(_) => Err(error::timeout(operation, self.deadline)),
        }
    }

    /// Runs the script call `cmd` (from [`evalsha`]) under the deadline; when the
    /// server does not know `script` (restarted, or `SCRIPT FLUSH`), loads it and
    /// retries once.
    pub async fn eval<T: FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        cmd: &Cmd,
    ) -> Result<T> {
        let mut conn = self.conn.clone();
        let call = async move {
            match cmd.query_async::<T>(&mut conn).await {
                Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    script.load_async(&mut conn).await?;
                    cmd.query_async(&mut conn).await
                }
                other => other,
            }
        };
        self.run(operation, call).await
    }

    /// [`eval`](Self::eval) of a write script. With `write_ack_replicas` set, the call
    /// is pipelined with `WAIT <replicas> <response_timeout ms>` on the same connection
    /// (on a cluster, the pipeline goes to the master of the script's slot); fewer
    /// acknowledgements answer `Error::Timeout`: the write is on the master, whether
    /// it survives a failover is unknown.
    pub async fn eval_write<T: FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        cmd: &Cmd,
    ) -> Result<T> {
        let replicas = self.config.write_ack_replicas;
        if replicas == 0 {
            return self.eval(operation, script, cmd).await;
        }
        let wait_ms = self.config.response_timeout.as_millis().max(1);
        let mut pipe = redis::pipe();
        pipe.add_command(cmd.clone())
            .cmd("WAIT")
            .arg(replicas)
            .arg(wait_ms.to_string());
        let mut conn = self.conn.clone();
        let call = async move {
            match pipe.query_async::<(T, usize)>(&mut conn).await {
                Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    script.load_async(&mut conn).await?;
                    pipe.query_async(&mut conn).await
                }
                other => other,
            }
        };
        let (value, acked) = self.run(operation, call).await?;
        if acked < replicas {
            return Err(error::timeout(operation, self.config.response_timeout));
        }
        Ok(value)
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("namespace", &self.inner.config.namespace)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish()
    }
}

/// What this backend offers (see the crate docs for each line).
pub const CAPABILITIES: Capabilities = Capabilities {
    ordered_scan: true,
    reverse_scan: true,
    snapshot_scan: false,
    atomic_batch: true,
    compare_and_swap: true,
    conditional_batch: true,
    range_delete: true,
    watch: true,
    cross_process_watch: true,
    ttl: true,
    persistent: true,
    compact: false,
    exact_len: true,
    max_key_len: backend_api::DEFAULT_MAX_KEY_LEN,
    max_value_len: backend_api::DEFAULT_MAX_VALUE_LEN,
};

impl RedisBackend {
    /// Connects to the server in `config` and loads the scripts.
    ///
    /// No server: `Error::Unavailable` (after one quick retry, within
    /// `connect_timeout`). Credentials refused: `Error::InvalidConfig`. A bad URL or
    /// namespace: `Error::InvalidConfig`.
    pub async fn open(config: RedisConfig) -> Result<RedisBackend> {
        config.validate()?;
        let client = client(&config)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let deadline = config.connect_timeout * 2 + config.response_timeout;
        let connect = async {
            if config.is_cluster() {
                cluster_client(&config)?
                    .get_async_connection()
                    .await
                    .map(Conn::Cluster)
            } else {
                ConnectionManager::new_with_config(client.clone(), manager_config)
                    .await
                    .map(Conn::Single)
            }
        };
        let conn = match tokio::time::timeout(deadline, connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => {
                return Err(match error::map(err, "open", config.connect_timeout) {
                    Error::Backend { source, .. } => Error::Unavailable {
                        detail: format!("open: {source}"),
                    },
                    other => other,
                });
            }
            Err(_) => {
                return Err(Error::Unavailable {
                    detail: format!("open: no answer from {} within {deadline:?}", config.url),
                });
            }
        };
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let inner = Inner {
            client,
            conn,
            layout: Layout::with_colocation(
                &config.namespace,
                config.is_cluster() && config.colocate_partitions,
            ),
            scripts: Scripts::new(),
            publish: batch::Publish {
                command: "PUBLISH",
                count: "NUMSUB",
            },
            deadline: config.connect_timeout + config.response_timeout,
            config,
            closed: AtomicBool::new(false),
            shutdown,
        };
        let mut conn = inner.conn.clone();
        for script in inner.scripts.all() {
            inner.run("open", script.load_async(&mut conn)).await?;
        }
        Ok(RedisBackend {
            inner: Arc::new(inner),
        })
    }

    /// The configuration this handle was opened with.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    fn keys(&self, partition: &Partition) -> PartitionKeys {
        self.inner.layout.partition(partition)
    }

    fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    /// `PartitionNotFound` unless the partition's marker exists; else the marker's
    /// value, the token of this creation of the partition.
    async fn require_partition(
        &self,
        partition: &Partition,
        keys: &PartitionKeys,
    ) -> Result<Bytes> {
        let mut conn = self.conn();
        let token: Option<Bytes> = self
            .inner
            .run(
                "partition_exists",
                redis::cmd("GET").arg(&keys.marker).query_async(&mut conn),
            )
            .await?;
        token.ok_or_else(|| not_found(partition))
    }

    /// `put_with` as an inherent method, so `put` awaits it without boxing a second future.
    async fn put_inner(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.inner.check_open()?;
        CAPABILITIES.check_key(key)?;
        CAPABILITIES.check_value(value)?;
        if options.ttl == Some(Duration::ZERO) {
            // A deadline already past: the put acts as a delete of any older value.
            return self.delete_inner(partition, key).await;
        }
        let keys = self.keys(partition);
        let script = &self.inner.scripts.put;
        let mut cmd = evalsha(script, 3);
        cmd.arg(&keys.marker)
            .arg(keys.value(key))
            .arg(&keys.index)
            .arg(key)
            .arg(value)
            .arg(ttl_arg(options.ttl))
            .arg(&keys.channel);
        let done: i64 = self.inner.eval_write("put", script, &cmd).await?;
        if done == 0 {
            Err(not_found(partition))
        } else {
            Ok(())
        }
    }

    async fn delete_inner(&self, partition: &Partition, key: &[u8]) -> Result<()> {
        let keys = self.keys(partition);
        let script = &self.inner.scripts.delete;
        let mut cmd = evalsha(script, 3);
        cmd.arg(&keys.marker)
            .arg(keys.value(key))
            .arg(&keys.index)
            .arg(key)
            .arg(&keys.channel);
        let done: i64 = self.inner.eval_write("delete", script, &cmd).await?;
        if done == 0 {
            Err(not_found(partition))
        } else {
            Ok(())
        }
    }
}

impl RedisBackend {
    /// Runs validated `checks` and `operations` (at least one of either) as one call of
    /// the write script and reads its answer.
    async fn write(
        &self,
        operation: &'static str,
        checks: &[Check],
        operations: &[Operation],
    ) -> Result<BatchOutcome> {
        let plan = batch::plan(
            &self.inner.layout,
            &self.inner.scripts,
            self.inner.publish,
            checks,
            operations,
        );
        if plan.partitions.len() > 1 && self.inner.split_registry() {
            // A missing partition is still the answer when there is one (error order).
            for partition in &plan.partitions {
                self.require_partition(partition, &self.keys(partition))
                    .await?;
            }
            return Err(Error::unsupported(
                NAME,
                "a batch or conditional batch across partitions on Redis Cluster (each \
                 partition has its own slot; open with RedisConfig::colocate_partitions(true) \
                 to put the namespace in one slot)",
            ));
        }
        let reply: Vec<Value> = self
            .inner
            .eval_write(operation, &self.inner.scripts.write, &plan.cmd)
            .await?;
        let unexpected =
            || Error::backend(NAME, format!("the {operation} script answered {reply:?}"));
        let number = |v: Option<&Value>| match v {
            Some(Value::Int(n)) => usize::try_from(*n).ok().and_then(|n| n.checked_sub(1)),
            _ => None,
        };
        match reply.first() {
            Some(Value::Int(0)) => Ok(BatchOutcome::Applied),
            Some(Value::Int(1)) => {
                match number(reply.get(1)).and_then(|j| plan.partitions.get(j)) {
                    Some(partition) => Err(not_found(partition)),
                    None => Err(unexpected()),
                }
            }
            Some(Value::Int(2)) => {
                let index = number(reply.get(1))
                    .filter(|&i| i < checks.len())
                    .ok_or_else(unexpected)?;
                let current = match reply.get(2) {
                    Some(Value::BulkString(bytes)) => Some(Bytes::copy_from_slice(bytes)),
                    None | Some(Value::Nil) => None,
                    Some(_) => return Err(unexpected()),
                };
                Ok(BatchOutcome::CheckFailed { index, current })
            }
            _ => Err(unexpected()),
        }
    }
}

/// The `redis::Client` for `config`: plain, or TLS (rustls) with the configured trust
/// anchors and client certificate.
fn client(config: &RedisConfig) -> Result<redis::Client> {
    let bad_url = |err: redis::RedisError| Error::InvalidConfig {
        detail: format!("redis URL: {err}; use redis[s]://[user][:password@]host[:port][/db]"),
    };
    if !config.is_tls() {
        return redis::Client::open(config.url.as_str()).map_err(bad_url);
    }
    install_crypto_provider();
    if let Some(pem) = &config.tls_ca_cert {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certificates =
            CertificateDer::pem_slice_iter(pem).collect::<std::result::Result<Vec<_>, _>>();
        if !certificates.is_ok_and(|c| !c.is_empty()) {
            return Err(Error::InvalidConfig {
                detail:
                    "tls_ca_cert holds no readable PEM certificate (-----BEGIN CERTIFICATE-----)"
                        .into(),
            });
        }
    }
    if config.tls_ca_cert.is_none() && config.tls_client_cert.is_none() {
        // The system's trust store (read by the redis crate through rustls-native-certs).
        return redis::Client::open(config.url.as_str()).map_err(bad_url);
    }
    let certificates = redis::TlsCertificates {
        client_tls: config
            .tls_client_cert
            .as_ref()
            .map(|(cert, key)| redis::ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
        root_cert: config.tls_ca_cert.clone(),
    };
    redis::Client::build_with_tls(config.url.as_str(), certificates).map_err(|err| {
        Error::InvalidConfig {
            detail: format!("TLS settings: {err}; tls_ca_cert and tls_client_cert take PEM text"),
        }
    })
}

/// The cluster client for `config.cluster_nodes` with the configured timeouts; the
/// client follows `MOVED`/`ASK` and refreshes its slot map after a failover, retrying a
/// call a few times within the call's deadline.
fn cluster_client(config: &RedisConfig) -> redis::RedisResult<redis::cluster::ClusterClient> {
    redis::cluster::ClusterClientBuilder::new(config.cluster_nodes.clone())
        .connection_timeout(config.connect_timeout)
        .response_timeout(config.response_timeout)
        .retries(3)
        .min_retry_wait(50)
        .max_retry_wait(500)
        .build()
}

/// Makes rustls's `ring` provider the process default, once, unless the application
/// installed a provider of its own first (then that one is used).
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A marker value no other creation of a partition has: the time in ns, this process,
/// and a counter.
fn creation_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}.{:x}.{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}

/// The TTL argument of the write scripts: `0` for none, else whole milliseconds
/// (rounded up, so a short TTL never becomes "no TTL").
pub(crate) fn ttl_arg(ttl: Option<Duration>) -> u64 {
    match ttl {
        None => 0,
        Some(ttl) => ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS) as u64,
    }
}

#[async_trait]
impl StorageBackend for RedisBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        if self.inner.config.is_cluster() {
            // Watch on a cluster (sharded pub/sub) is not built yet: said, not emulated.
            Capabilities {
                watch: false,
                cross_process_watch: false,
                ..CAPABILITIES
            }
        } else {
            CAPABILITIES
        }
    }

    async fn create_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        let keys = self.keys(partition);
        let script = &self.inner.scripts.create;
        if self.inner.split_registry() {
            // Registry and marker live in different slots: registry first, so a listed
            // name without a marker (a create cut short) is filtered by `list_partitions`.
            let mut conn = self.conn();
            self.inner
                .run(
                    "create_partition",
                    redis::cmd("SADD")
                        .arg(self.inner.layout.registry())
                        .arg(partition.name())
                        .query_async::<i64>(&mut conn),
                )
                .await?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(&keys.marker).arg(creation_token()).arg("NX");
            self.inner
                .run("create_partition", cmd.query_async::<Value>(&mut conn))
                .await?;
            return Ok(());
        }
        let mut cmd = evalsha(script, 2);
        cmd.arg(&keys.marker)
            .arg(self.inner.layout.registry())
            .arg(partition.name())
            .arg(creation_token());
        self.inner
            .eval_write::<i64>("create_partition", script, &cmd)
            .await?;
        Ok(())
    }

    async fn drop_partition(&self, partition: &Partition) -> Result<()> {
        self.inner.check_open()?;
        let keys = self.keys(partition);
        let script = &self.inner.scripts.drop;
        let mut cmd = evalsha(script, 3);
        let registry = if self.inner.split_registry() {
            // The script's registry slot must be the partition's: name a key of that
            // slot that never exists (its `SREM` does nothing); the registry is
            // updated below.
            let mut none = keys.marker.clone();
            none.extend_from_slice(b":none");
            none
        } else {
            self.inner.layout.registry().into_bytes()
        };
        cmd.arg(&keys.marker)
            .arg(&keys.index)
            .arg(registry)
            .arg(partition.name())
            .arg(&keys.value_prefix)
            .arg(&keys.channel);
        let done: i64 = self
            .inner
            .eval_write("drop_partition", script, &cmd)
            .await?;
        if self.inner.split_registry() {
            // The script (in the partition's slot) could not touch the registry: the
            // name goes now. A drop cut short here leaves a name without a marker,
            // which `list_partitions` filters out.
            let mut conn = self.conn();
            self.inner
                .run(
                    "drop_partition",
                    redis::cmd("SREM")
                        .arg(self.inner.layout.registry())
                        .arg(partition.name())
                        .query_async::<i64>(&mut conn),
                )
                .await?;
        }
        if done == 0 {
            Err(not_found(partition))
        } else {
            Ok(())
        }
    }

    async fn partition_exists(&self, partition: &Partition) -> Result<bool> {
        self.inner.check_open()?;
        let keys = self.keys(partition);
        let mut conn = self.conn();
        self.inner
            .run(
                "partition_exists",
                redis::cmd("EXISTS")
                    .arg(&keys.marker)
                    .query_async(&mut conn),
            )
            .await
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.inner.check_open()?;
        let mut conn = self.conn();
        let names: Vec<String> = self
            .inner
            .run(
                "list_partitions",
                redis::cmd("SMEMBERS")
                    .arg(self.inner.layout.registry())
                    .query_async(&mut conn),
            )
            .await?;
        let mut names = names;
        if self.inner.split_registry() {
            // A create or drop cut short between its two steps leaves a name without a
            // marker: not a partition.
            let mut live = Vec::with_capacity(names.len());
            for name in names {
                let Ok(partition) = Partition::parse(&name) else {
                    live.push(name);
                    continue;
                };
                if self.partition_exists(&partition).await? {
                    live.push(name);
                }
            }
            names = live;
        }
        let mut partitions = names
            .iter()
            .map(|name| {
                Partition::parse(name).map_err(|_| {
                    Error::corruption(format!("partition registry holds a bad name {name:?}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        partitions.sort();
        Ok(partitions)
    }

    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.check_open()?;
        CAPABILITIES.check_key(key)?;
        let keys = self.keys(partition);
        let mut conn = self.conn();
        let value: Option<Bytes> = self
            .inner
            .run(
                "get",
                redis::cmd("GET")
                    .arg(keys.value(key))
                    .query_async(&mut conn),
            )
            .await?;
        if value.is_none() {
            // A live value implies its partition exists (values are only written by
            // scripts that check the marker, and dropped with it atomically), so only a
            // miss needs the second round trip.
            self.require_partition(partition, &keys).await?;
        }
        Ok(value)
    }

    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.inner.check_open()?;
        for key in keys {
            CAPABILITIES.check_key(key)?;
        }
        let pkeys = self.keys(partition);
        if keys.is_empty() {
            self.require_partition(partition, &pkeys).await?;
            return Ok(Vec::new());
        }
        let names: Vec<Vec<u8>> = keys.iter().map(|k| pkeys.value(k)).collect();
        let mut pipe = redis::pipe();
        pipe.exists(&pkeys.marker);
        pipe.cmd("MGET").arg(&names);
        let mut conn = self.conn();
        let (found, values): (bool, Vec<Option<Bytes>>) = self
            .inner
            .run("get_many", pipe.query_async(&mut conn))
            .await?;
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
        self.inner.check_open()?;
        CAPABILITIES.check_key(key)?;
        let keys = self.keys(partition);
        let mut conn = self.conn();
        let exists: bool = self
            .inner
            .run(
                "exists",
                redis::cmd("EXISTS")
                    .arg(keys.value(key))
                    .query_async(&mut conn),
            )
            .await?;
        if !exists {
            self.require_partition(partition, &keys).await?;
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
        self.inner.check_open()?;
        CAPABILITIES.check_key(key)?;
        self.delete_inner(partition, key).await
    }

    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream> {
        self.inner.check_open()?;
        CAPABILITIES.check_scan_range(&range)?;
        let keys = self.keys(partition);
        let token = self.require_partition(partition, &keys).await?;
        Ok(scan::scan(
            self.inner.clone(),
            partition.clone(),
            keys,
            token,
            &range,
        ))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        self.inner.check_open()?;
        for op in &operations {
            CAPABILITIES.check_operation(op, NAME)?;
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
        self.inner.check_open()?;
        for check in &checks {
            CAPABILITIES.check_check(check)?;
        }
        for op in &operations {
            CAPABILITIES.check_operation(op, NAME)?;
        }
        if checks.is_empty() && operations.is_empty() {
            return Ok(BatchOutcome::Applied);
        }
        self.write("conditional_batch", &checks, &operations).await
    }

    // `compare_and_swap` is the trait's default: the one-key conditional batch, through
    // the same script (one code path for every conditional write).

    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        if self.inner.config.is_cluster() {
            return Err(Error::unsupported(NAME, "watch on Redis Cluster"));
        }
        self.inner.check_open()?;
        CAPABILITIES.check_prefix(prefix)?;
        let keys = self.keys(partition);
        self.require_partition(partition, &keys).await?;
        let stream = watch::subscribe(
            &self.inner.client,
            keys.channel.clone(),
            Bytes::copy_from_slice(prefix),
            self.inner.config.watch_capacity,
            self.inner.deadline,
            self.inner.shutdown.subscribe(),
        )
        .await?;
        // The partition may have been dropped between the check and the subscription.
        self.require_partition(partition, &keys).await?;
        Ok(stream)
    }

    async fn partition_size(&self, partition: &Partition) -> Result<u64> {
        self.inner.check_open()?;
        let keys = self.keys(partition);
        self.require_partition(partition, &keys).await?;
        let page = self.inner.config.scan_page;
        let mut min = b"-".to_vec();
        let mut total = 0u64;
        let mut conn = self.conn();
        loop {
            let members: Vec<Bytes> = self
                .inner
                .run(
                    "partition_size",
                    redis::cmd("ZRANGEBYLEX")
                        .arg(&keys.index)
                        .arg(&min)
                        .arg("+")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(page)
                        .query_async(&mut conn),
                )
                .await?;
            let mut pipe = redis::pipe();
            for member in &members {
                pipe.exists(keys.value(member)).strlen(keys.value(member));
            }
            let sizes: Vec<(bool, u64)> = if members.is_empty() {
                Vec::new()
            } else {
                self.inner
                    .run("partition_size", pipe.query_async(&mut conn))
                    .await?
            };
            for (member, (live, len)) in members.iter().zip(sizes) {
                if live {
                    total += member.len() as u64 + len;
                }
            }
            match members.last() {
                Some(last) if members.len() == page => {
                    min = vec![b'('];
                    min.extend_from_slice(last);
                }
                _ => return Ok(total),
            }
        }
    }

    async fn flush(&self) -> Result<()> {
        // Durability is the server's (AOF/RDB settings); this checks it is reachable.
        self.inner.check_open()?;
        let mut conn = self.conn();
        self.inner
            .run("flush", redis::cmd("PING").query_async::<String>(&mut conn))
            .await?;
        Ok(())
    }

    async fn status(&self) -> Result<Status> {
        self.inner.check_open()?;
        let mut conn = self.conn();
        let info: Value = self
            .inner
            .run(
                "status",
                redis::cmd("INFO")
                    .arg("server")
                    .arg("memory")
                    .arg("keyspace")
                    .query_async(&mut conn),
            )
            .await?;
        let mut status = Status::new();
        // A standalone server answers one text; a cluster client asks every node and
        // answers a map of node address to text (keys then carry the node).
        let texts: Vec<(String, String)> = match info {
            Value::Map(nodes) => nodes
                .into_iter()
                .filter_map(|(node, text)| {
                    Some((
                        format!("{}.", String::from_redis_value(node).ok()?),
                        String::from_redis_value(text).ok()?,
                    ))
                })
                .collect(),
            other => vec![(
                String::new(),
                String::from_redis_value(other).map_err(|e| Error::backend(NAME, e))?,
            )],
        };
        for (node, text) in &texts {
            for line in text.lines() {
                let Some((name, value)) = line.trim().split_once(':') else {
                    continue;
                };
                if matches!(
                    name,
                    "redis_version"
                        | "redis_mode"
                        | "uptime_in_seconds"
                        | "used_memory"
                        | "used_memory_human"
                        | "used_memory_peak"
                        | "maxmemory"
                        | "maxmemory_policy"
                ) || name.starts_with("db")
                {
                    status.insert(format!("server.{node}{name}"), value.to_owned());
                }
            }
        }
        status.insert("namespace".into(), self.inner.config.namespace.clone());
        let partitions = self.list_partitions().await?;
        status.insert("partitions".into(), partitions.len().to_string());
        let mut total = 0u64;
        for partition in &partitions {
            let count: u64 = self
                .inner
                .run(
                    "status",
                    redis::cmd("ZCARD")
                        .arg(self.keys(partition).index)
                        .query_async(&mut conn),
                )
                .await?;
            total += count;
            status.insert(
                format!("partition.{partition}.index_entries"),
                count.to_string(),
            );
        }
        status.insert("index_entries".into(), total.to_string());
        Ok(status)
    }

    async fn close(&self) -> Result<()> {
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            let _ = self.inner.shutdown.send(true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_and_clamps() {
        assert_eq!(ttl_arg(None), 0);
        assert_eq!(ttl_arg(Some(Duration::from_nanos(1))), 1);
        assert_eq!(ttl_arg(Some(Duration::from_micros(1500))), 2);
        assert_eq!(ttl_arg(Some(Duration::from_secs(3))), 3000);
        assert_eq!(ttl_arg(Some(Duration::MAX)), MAX_TTL_MS as u64);
    }
}
