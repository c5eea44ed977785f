//! Connection settings, and the capabilities they give a handle.

use std::time::Duration;

use backend_api::{Capabilities, Error, Result};

/// Default [`RedisConfig::connect_timeout`]: 2 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`RedisConfig::response_timeout`]: 5 seconds.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`RedisConfig::scan_page`]: index entries fetched per scan round trip.
pub const DEFAULT_SCAN_PAGE: usize = 512;
/// Default [`RedisConfig::watch_capacity`]: events a watcher may fall behind.
pub const DEFAULT_WATCH_CAPACITY: usize = 4096;
/// Default namespace.
pub const DEFAULT_NAMESPACE: &str = "default";

/// How to reach the server and which part of it this store uses.
///
/// Built by [`RedisConfig::new`] (one server) or [`RedisConfig::cluster`] plus setters.
/// There is deliberately no `Default`: a store must name its server, never fall back to
/// whatever listens on `localhost:6379` (which may be another application's data).
///
/// ```
/// use std::time::Duration;
/// use backend_redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")
///     .namespace("app1")
///     .response_timeout(Duration::from_secs(1));
/// assert_eq!(config.namespace_name(), "app1");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user][:password@]host[:port][/db]`, or `rediss://...` for TLS (rustls;
    /// the server certificate is checked against `tls_ca_cert`, else the system's trust
    /// store, and must name the URL's host).
    pub url: String,
    /// Stores with different namespaces on one server never see each other's data.
    /// 1 to 64 characters of `[A-Za-z0-9_.-]`.
    pub namespace: String,
    /// Each attempt to (re)connect gives up after this long.
    pub connect_timeout: Duration,
    /// Each call gives up after this long and answers `Error::Timeout` (its effect is
    /// then unknown).
    pub response_timeout: Duration,
    /// Index entries fetched per scan round trip (the scan's memory bound).
    pub scan_page: usize,
    /// Events a watcher may fall behind before it receives `WatchEvent::Lagged`.
    pub watch_capacity: usize,
    /// PEM certificate(s) of the authorities trusted to sign the server's certificate,
    /// instead of the system's trust store (`rediss://` only).
    pub tls_ca_cert: Option<Vec<u8>>,
    /// PEM client certificate chain and private key, for servers that verify clients
    /// (`tls-auth-clients yes`; `rediss://` only).
    pub tls_client_cert: Option<(Vec<u8>, Vec<u8>)>,
    /// Redis Cluster seed nodes (`redis://host:port` each); empty: `url` is one
    /// standalone server. See [`RedisConfig::cluster`].
    pub cluster_nodes: Vec<String>,
    /// Put every partition of the namespace in one cluster slot (one co-location group),
    /// so batches and conditional batches may span partitions on a cluster. Off: each
    /// partition has its own slot and a batch naming two partitions is refused.
    pub colocate_partitions: bool,
    /// After each write, `WAIT` for this many replicas to acknowledge it (0: don't);
    /// fewer within `response_timeout` answers `Error::Timeout` (the write happened on
    /// the master; whether it survives a failover is unknown).
    pub write_ack_replicas: usize,
}

impl std::fmt::Debug for RedisConfig {
    /// Never prints the URL's password or the client key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_password(&self.url))
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("scan_page", &self.scan_page)
            .field("watch_capacity", &self.watch_capacity)
            .field("tls_ca_cert", &self.tls_ca_cert.as_ref().map(|_| "<set>"))
            .field(
                "tls_client_cert",
                &self.tls_client_cert.as_ref().map(|_| "<set>"),
            )
            .field(
                "cluster_nodes",
                &self
                    .cluster_nodes
                    .iter()
                    .map(|u| redact_password(u))
                    .collect::<Vec<_>>(),
            )
            .field("colocate_partitions", &self.colocate_partitions)
            .field("write_ack_replicas", &self.write_ack_replicas)
            .finish()
    }
}

/// `url` with the password of its user part, if any, replaced by `<redacted>`.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:<redacted>{}",
            &url[..scheme_end],
            &authority[..colon],
            &url[scheme_end + at..]
        ),
        _ => url.to_owned(),
    }
}

impl RedisConfig {
    /// A config for the server at `url` with the default namespace and timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            scan_page: DEFAULT_SCAN_PAGE,
            watch_capacity: DEFAULT_WATCH_CAPACITY,
            tls_ca_cert: None,
            tls_client_cert: None,
            cluster_nodes: Vec::new(),
            colocate_partitions: false,
            write_ack_replicas: 0,
        }
    }

    /// A config for the Redis Cluster reachable through any of `nodes` (seed URLs,
    /// `redis://host:port`; the client discovers the rest). Each partition lives in one
    /// slot (hash tag `{<namespace>:<partition>}`).
    pub fn cluster<S: Into<String>>(nodes: impl IntoIterator<Item = S>) -> Self {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        let mut config = Self::new(nodes.first().cloned().unwrap_or_default());
        config.cluster_nodes = nodes;
        config
    }

    /// True when this config names a cluster.
    pub fn is_cluster(&self) -> bool {
        !self.cluster_nodes.is_empty()
    }

    /// Puts every partition of the namespace in one slot (see
    /// [`RedisConfig::colocate_partitions`]).
    pub fn colocate_partitions(mut self, on: bool) -> Self {
        self.colocate_partitions = on;
        self
    }

    /// Waits for `replicas` replicas to acknowledge each write (`WAIT`).
    pub fn write_ack_replicas(mut self, replicas: usize) -> Self {
        self.write_ack_replicas = replicas;
        self
    }

    /// Trusts the authorities in `pem` (one or more PEM certificates) for the server's
    /// certificate, instead of the system's trust store. Needs a `rediss://` URL.
    ///
    /// ```no_run
    /// # fn demo() -> std::io::Result<()> {
    /// use backend_redis::RedisConfig;
    /// let config = RedisConfig::new("rediss://redis.internal:6380/0")
    ///     .tls_ca_cert(std::fs::read("/etc/redis/ca.crt")?);
    /// # Ok(()) }
    /// ```
    pub fn tls_ca_cert(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca_cert = Some(pem.into());
        self
    }

    /// Presents `cert_pem` (the client certificate chain) with `key_pem` (its private
    /// key) to a server that verifies clients. Needs a `rediss://` URL.
    pub fn tls_client_cert(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls_client_cert = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// True when the URL asks for TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.url
            .get(..9)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss://"))
    }

    /// Sets the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The namespace.
    pub fn namespace_name(&self) -> &str {
        &self.namespace
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the response timeout.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Sets the scan page size (at least 1).
    pub fn scan_page(mut self, entries: usize) -> Self {
        self.scan_page = entries;
        self
    }

    /// Sets the watcher capacity (at least 1).
    pub fn watch_capacity(mut self, events: usize) -> Self {
        self.watch_capacity = events;
        self
    }

    /// What a handle opened with this config offers (see the crate docs for each line).
    ///
    /// On a cluster, `watch` and `cross_process_watch` through sharded pub/sub, and
    /// `cross_partition_batch` only with [`colocate_partitions`](Self::colocate_partitions)
    /// (otherwise each partition has its own slot and one script cannot span two).
    pub fn capabilities(&self) -> Capabilities {
        let cluster = self.is_cluster();
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            snapshot_scan: false,
            atomic_batch: true,
            cross_partition_batch: !cluster || self.colocate_partitions,
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
        }
    }

    /// `Error::InvalidConfig` naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let ns = &self.namespace;
        if ns.is_empty()
            || ns.len() > 64
            || !ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(invalid(format!(
                "namespace {ns:?}: use 1 to 64 characters of [A-Za-z0-9_.-]"
            )));
        }
        if self.connect_timeout.is_zero() || self.response_timeout.is_zero() {
            return Err(invalid("timeouts must be greater than zero".into()));
        }
        if self.scan_page == 0 || self.watch_capacity == 0 {
            return Err(invalid(
                "scan_page and watch_capacity must be at least 1".into(),
            ));
        }
        if (self.tls_ca_cert.is_some() || self.tls_client_cert.is_some()) && !self.is_tls() {
            return Err(invalid(
                "tls_ca_cert / tls_client_cert are set but the URL is not rediss://".into(),
            ));
        }
        Ok(())
    }
}

fn invalid(detail: String) -> Error {
    Error::InvalidConfig {
        detail,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> RedisConfig {
        RedisConfig::new("redis://127.0.0.1:6379/0")
    }

    #[test]
    fn cross_partition_batches_need_one_slot_on_a_cluster() {
        assert!(local().capabilities().cross_partition_batch);
        let cluster = RedisConfig::cluster(["redis://127.0.0.1:7000"]);
        assert!(!cluster.capabilities().cross_partition_batch);
        assert!(cluster.capabilities().watch && cluster.capabilities().cross_process_watch);
        assert!(
            cluster
                .colocate_partitions(true)
                .capabilities()
                .cross_partition_batch
        );
    }

    #[test]
    fn rejects_bad_namespaces_and_zero_settings() {
        for ns in ["", "a b", "a{b}", "a:b", &"x".repeat(65)] {
            assert!(local().namespace(ns).validate().is_err(), "{ns:?}");
        }
        assert!(local().namespace("a.b-c_1").validate().is_ok());
        assert!(local().scan_page(0).validate().is_err());
        assert!(local().response_timeout(Duration::ZERO).validate().is_err());
        assert!(local().tls_ca_cert("x").validate().is_err());
        assert!(
            RedisConfig::new("RedisS://h:1/0")
                .tls_ca_cert("x")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn debug_never_shows_the_password_or_the_key() {
        for url in [
            "redis://:s3cret@h:1/0",
            "redis://user:s3cret@h:1/0",
            "rediss://user:s3cret@h/0?x=1",
        ] {
            let shown = format!(
                "{:?}",
                RedisConfig::new(url).tls_client_cert("cert", "s3cret-key")
            );
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("<redacted>@h"), "{shown}");
        }
        let plain = format!("{:?}", RedisConfig::new("redis://user@h:1/0"));
        assert!(plain.contains("redis://user@h:1/0"), "{plain}");
    }
}
