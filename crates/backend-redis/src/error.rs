//! Redis errors mapped onto the contract's error enum.

use std::time::Duration;

use backend_api::Error;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// The backend's short name.
pub(crate) const NAME: &str = "redis";

/// Maps `err`, from `operation`, onto the closest contract variant.
pub(crate) fn map(err: RedisError, operation: &'static str, timeout: Duration) -> Error {
    let kind = err.kind();
    let code = err.code().unwrap_or("");
    if kind == ErrorKind::AuthenticationFailed || matches!(code, "WRONGPASS" | "NOAUTH" | "NOPERM")
    {
        return Error::InvalidConfig {
            detail: format!(
                "the server refused the credentials ({err}); check the user and password in the URL"
            ),
        };
    }
    if let Some(tls) = tls_error(&err) {
        return Error::InvalidConfig {
            detail: format!(
                "TLS: {tls}; check tls_ca_cert (the authority that signed the server's \
                 certificate), that the certificate names the URL's host, and tls_client_cert"
            ),
        };
    }
    if kind == ErrorKind::InvalidClientConfig {
        return Error::InvalidConfig {
            detail: format!("{err}; check the URL"),
        };
    }
    if err.is_timeout() {
        return Error::Timeout {
            operation,
            after: timeout,
        };
    }
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || matches!(
            kind,
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    // A cluster's topology is changing (failover, resharding) and the
                    // client's own redirections ran out: retry later.
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::ReadOnly
            )
        )
    {
        return Error::Unavailable {
            detail: format!("{operation}: {err}"),
        };
    }
    Error::backend(NAME, err)
}

/// The answer of a call that ran out of time.
pub(crate) fn timeout(operation: &'static str, after: Duration) -> Error {
    Error::Timeout { operation, after }
}

/// The rustls error behind `err`, if the TLS layer refused the connection (an
/// untrusted or misnamed server certificate, a refused client certificate): a setup
/// problem that retrying will not fix, so it is reported as such rather than as an
/// outage.
fn tls_error(err: &RedisError) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(current) = source {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(tls) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        source = current.source();
    }
    // The redis crate may flatten the cause into its message.
    let text = err.to_string();
    text.contains("invalid peer certificate").then_some(text)
}
