//! Connection settings.

use std::time::Duration;

use backend_api::{Error, Result};

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
/// ```
/// use std::time::Duration;
/// use backend_redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")
///     .namespace("app1")
///     .response_timeout(Duration::from_secs(1));
/// assert_eq!(config.namespace_name(), "app1");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user][:password@]host[:port][/db]`. (`rediss://` needs a TLS-enabled
    /// build of the `redis` crate; see the crate docs.)
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
        }
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
        Ok(())
    }
}

impl Default for RedisConfig {
    /// `redis://127.0.0.1:6379/0`, namespace `default`.
    fn default() -> Self {
        Self::new("redis://127.0.0.1:6379/0")
    }
}

fn invalid(detail: String) -> Error {
    Error::InvalidConfig { detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_namespaces_and_zero_settings() {
        for ns in ["", "a b", "a{b}", "a:b", &"x".repeat(65)] {
            assert!(
                RedisConfig::default().namespace(ns).validate().is_err(),
                "{ns:?}"
            );
        }
        assert!(
            RedisConfig::default()
                .namespace("a.b-c_1")
                .validate()
                .is_ok()
        );
        assert!(RedisConfig::default().scan_page(0).validate().is_err());
        assert!(
            RedisConfig::default()
                .response_timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
    }
}
