//! Redis errors mapped onto the contract's error enum.
//!
//! Every failed call becomes a [`CallError`] (the call, the server it went to, and the
//! client's [`RedisError`] as its `source()`), which is then filed under the closest
//! [`backend_api::Error`] variant and kept as that error's source where the variant has
//! one. The variant is chosen from error kinds and codes, never from message text:
//! refused credentials and TLS handshake failures are `InvalidConfig` (retrying will
//! not help), a dead or unreachable server `Unavailable`, a slow one `Timeout`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backend_api::{Error, Partition};
use redis::{ErrorKind, IntoConnectionInfo, RedisError, ServerErrorKind};

use crate::config::RedisConfig;

/// The backend's short name.
pub(crate) const NAME: &str = "redis";

/// The server (or cluster) a handle talks to, as its errors name it: `host:port`, never
/// the URL's user or password.
#[derive(Clone, Debug)]
pub(crate) struct Server(Arc<str>);

impl Server {
    /// The server of `config`: its URL's address, or the cluster's seed addresses.
    pub fn of(config: &RedisConfig) -> Server {
        let name = if config.is_cluster() {
            let seeds: Vec<String> = config.cluster_nodes.iter().map(|u| address(u)).collect();
            format!("Redis Cluster (seeds {})", seeds.join(", "))
        } else {
            address(&config.url)
        };
        Server(name.into())
    }

    /// Maps `err`, from `operation` on this server, onto the closest contract variant;
    /// `timeout` is the limit a timed-out call was given.
    pub fn map(&self, err: RedisError, operation: &'static str, timeout: Duration) -> Error {
        let class = classify(&err);
        let failure = CallError {
            server: self.clone(),
            operation,
            source: err,
        };
        match class {
            Class::Credentials => Error::InvalidConfig {
                detail: format!(
                    "{failure}: the server refused the credentials; check the user and \
                     password in the URL"
                ),
                source: Some(Box::new(failure)),
            },
            Class::Tls(tls) => Error::InvalidConfig {
                detail: format!(
                    "{failure}: TLS handshake refused ({tls}); check tls_ca_cert (the \
                     authority that signed the server's certificate), that the certificate \
                     names the URL's host, and tls_client_cert"
                ),
                source: Some(Box::new(failure)),
            },
            Class::Config => Error::InvalidConfig {
                detail: format!("{failure}; check the URL"),
                source: Some(Box::new(failure)),
            },
            Class::Timeout => timeout_error(operation, timeout),
            Class::Outage => Error::unavailable(failure.to_string(), Some(Box::new(failure))),
            Class::Other => Error::backend(NAME, failure),
        }
    }

    /// [`map`](Self::map) for a failed connect: anything that is not a setup problem
    /// means the server could not be reached, `Unavailable`.
    pub fn map_connect(&self, err: RedisError, timeout: Duration) -> Error {
        match self.map(err, "open", timeout) {
            Error::Backend { source, .. } => Error::unavailable(source.to_string(), Some(source)),
            other => other,
        }
    }

    /// `Unavailable` for a connect that got no answer within `after`.
    pub fn no_answer(&self, after: Duration) -> Error {
        Error::unavailable(
            format!("open: no answer from {self} within {after:?}"),
            None,
        )
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `host:port` of `url` (credentials left out); an unparsable URL as given, minus
/// anything before an `@`.
fn address(url: &str) -> String {
    match url.into_connection_info() {
        Ok(info) => info.addr().to_string(),
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => host.to_owned(),
            None => url.to_owned(),
        },
    }
}

/// A call that failed: which call, on which server, and the client's error.
///
/// `source()` is the client's [`RedisError`], except when that error only wraps an I/O
/// error (connection refused, reset, TLS): then it is that `io::Error` itself. The redis
/// crate keeps it behind an `Arc<dyn Error>`, which a caller walking the chain could not
/// downcast to `io::Error`; the `RedisError` adds nothing to it but its kind (`Io`).
#[derive(Debug)]
struct CallError {
    server: Server,
    operation: &'static str,
    source: RedisError,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}: {}", self.operation, self.server, self.source)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match io_error(&self.source) {
            Some(io) => Some(io),
            None => Some(&self.source),
        }
    }
}

/// The I/O error `err` wraps, if any (through the redis crate's `Arc<dyn Error>`).
fn io_error(err: &RedisError) -> Option<&std::io::Error> {
    std::error::Error::source(err)?
        .downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>()?
        .downcast_ref::<std::io::Error>()
}

/// What a client error means for the caller.
enum Class {
    /// The server refused the user or password.
    Credentials,
    /// The TLS layer refused the connection (the rustls error's text).
    Tls(String),
    /// The client refused its settings.
    Config,
    /// No answer in time.
    Timeout,
    /// The server is down, unreachable, or not serving (loading, failing over).
    Outage,
    /// Anything else.
    Other,
}

/// Sorts `err` by its kind, its server error code and the errors in its source chain.
fn classify(err: &RedisError) -> Class {
    let kind = err.kind();
    if kind == ErrorKind::AuthenticationFailed
        || kind == ErrorKind::Server(ServerErrorKind::NoPerm)
        || matches!(err.code(), Some("WRONGPASS" | "NOAUTH"))
    {
        return Class::Credentials;
    }
    if let Some(tls) = tls_error(err) {
        return Class::Tls(tls.to_string());
    }
    if kind == ErrorKind::InvalidClientConfig {
        return Class::Config;
    }
    if err.is_timeout() {
        return Class::Timeout;
    }
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || kind == ErrorKind::ClusterConnectionNotFound
        // An error the client built with a server kind carries no reply code.
        || matches!(kind, ErrorKind::Server(kind) if not_serving(Some(kind), ""))
        || any_reply_not_serving(err)
    {
        return Class::Outage;
    }
    Class::Other
}

/// Whether any server error in `err` says the server is not serving: the reply itself,
/// or any failed command of a pipeline (whose own `kind()` is only its first failure's).
fn any_reply_not_serving(err: &RedisError) -> bool {
    err.clone()
        .into_server_errors()
        .is_some_and(|items| items.iter().any(|(_, e)| not_serving(e.kind(), e.code())))
}

/// Whether a server error says the server is not serving this call right now: loading,
/// its master down, a cluster whose topology is changing (failover, resharding) after
/// the client's own redirections ran out, or a blocked `WAIT` released because its
/// master became a replica (`UNBLOCKED`; the write may or may not have been kept).
fn not_serving(kind: Option<ServerErrorKind>, code: &str) -> bool {
    matches!(
        kind,
        Some(
            ServerErrorKind::BusyLoading
                | ServerErrorKind::MasterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::ReadOnly
        )
    ) || code == "UNBLOCKED"
}

/// The rustls error behind `err`, if the TLS layer refused the connection (an
/// untrusted or misnamed server certificate, a refused client certificate): tokio-rustls
/// reports it as an `io::Error` whose payload is the `rustls::Error`.
fn tls_error(err: &RedisError) -> Option<&rustls::Error> {
    io_error(err)?.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The answer of a call that ran out of time.
pub(crate) fn timeout_error(operation: &'static str, after: Duration) -> Error {
    Error::Timeout { operation, after }
}

/// The answer for a partition without a marker.
pub(crate) fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_leave_credentials_out() {
        assert_eq!(
            address("redis://:s3cret@127.0.0.1:7000/0"),
            "127.0.0.1:7000"
        );
        assert_eq!(
            address("rediss://u:p@host.example:6380/0"),
            "host.example:6380"
        );
        let cluster = Server::of(&RedisConfig::cluster(["redis://a:1", "redis://u:p@b:2"]));
        assert_eq!(cluster.to_string(), "Redis Cluster (seeds a:1, b:2)");
    }

    /// Regression: a `WAIT` released by a graceful `CLUSTER FAILOVER` answered
    /// `UNBLOCKED`, which was filed as a plain backend error instead of an outage.
    #[test]
    fn unblocked_by_a_role_change_is_an_outage() {
        let reply = b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n";
        let err = redis::parse_redis_value(reply)
            .unwrap()
            .extract_error()
            .unwrap_err();
        let err = Server::of(&RedisConfig::new("redis://127.0.0.1:1/0")).map(
            err,
            "put",
            Duration::from_secs(1),
        );
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    }

    #[test]
    fn an_io_error_is_an_outage_that_keeps_its_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Server::of(&RedisConfig::new("redis://127.0.0.1:1/0")).map(
            RedisError::from(io),
            "get",
            Duration::from_secs(1),
        );
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        assert!(err.to_string().contains("get on 127.0.0.1:1"), "{err}");
        let mut source = std::error::Error::source(&err);
        let mut found = false;
        while let Some(current) = source {
            found |= current.downcast_ref::<std::io::Error>().is_some();
            source = current.source();
        }
        assert!(found, "the io::Error is in the chain");
    }
}
