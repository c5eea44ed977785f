//! [`BackendConfig`]: one backend's configuration, read from and written to a URL.

use std::str::FromStr;
use std::sync::Arc;

use backend_api::StorageBackend;

use crate::parse::Parts;
use crate::{OpenError, UrlError};

/// Every scheme this crate knows, with the cargo feature that compiles its backend.
pub const SCHEMES: &[(&str, &str)] = &[
    ("mem", "mem"),
    ("file", "file"),
    ("rocks", "rocks"),
    ("sled", "sled"),
    ("redis", "redis"),
    ("rediss", "redis"),
    ("redis+cluster", "redis"),
    ("rediss+cluster", "redis"),
];

/// The configuration of one backend, as a URL describes it.
///
/// `BackendConfig::from_url(u)?.to_url()?` is the canonical form of `u`: parameters
/// that equal the backend's default are left out, the rest come in a fixed order, and
/// reading it back gives an equal configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum BackendConfig {
    /// `mem://`
    #[cfg(feature = "mem")]
    Mem(backend_mem::MemConfig),
    /// `file:///path`
    #[cfg(feature = "file")]
    File(backend_file::FileConfig),
    /// `rocks:///path`
    #[cfg(feature = "rocks")]
    Rocks(backend_rocks::RocksConfig),
    /// `sled:///path`
    #[cfg(feature = "sled")]
    Sled(backend_sled::SledConfig),
    /// `redis://host:port/db` or `rediss://...`; a cluster:
    /// `redis+cluster://host1:port1,host2:port2` or `rediss+cluster://...`
    #[cfg(feature = "redis")]
    Redis(backend_redis::RedisConfig),
}

impl BackendConfig {
    /// Reads `url`. Errors name the part that is wrong: [`UrlError::UnknownScheme`],
    /// [`UrlError::FeatureDisabled`] for a backend not compiled in,
    /// [`UrlError::UnknownParam`], [`UrlError::BadParam`], [`UrlError::Malformed`].
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        let parts = Parts::split(url)?;
        let feature = SCHEMES
            .iter()
            .find(|(s, _)| *s == parts.scheme)
            .map(|(_, f)| *f)
            .ok_or_else(|| UrlError::UnknownScheme {
                scheme: parts.scheme.clone(),
                known: SCHEMES
                    .iter()
                    .map(|(s, _)| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        match feature {
            #[cfg(feature = "mem")]
            "mem" => crate::mem::from_parts(parts).map(BackendConfig::Mem),
            #[cfg(feature = "file")]
            "file" => crate::file::from_parts(parts).map(BackendConfig::File),
            #[cfg(feature = "rocks")]
            "rocks" => crate::rocks::from_parts(parts).map(BackendConfig::Rocks),
            #[cfg(feature = "sled")]
            "sled" => crate::sled::from_parts(parts).map(BackendConfig::Sled),
            #[cfg(feature = "redis")]
            "redis" => crate::redis::from_parts(parts).map(BackendConfig::Redis),
            feature => Err(UrlError::FeatureDisabled {
                scheme: parts.scheme,
                feature,
            }),
        }
    }

    /// The URL that opens this configuration (see the type's docs). Settings that no
    /// URL can carry (TLS certificates given as bytes, sub-millisecond durations)
    /// answer [`UrlError::NotRepresentable`].
    pub fn to_url(&self) -> Result<String, UrlError> {
        match self {
            #[cfg(feature = "mem")]
            BackendConfig::Mem(c) => crate::mem::to_url(c),
            #[cfg(feature = "file")]
            BackendConfig::File(c) => crate::file::to_url(c),
            #[cfg(feature = "rocks")]
            BackendConfig::Rocks(c) => crate::rocks::to_url(c),
            #[cfg(feature = "sled")]
            BackendConfig::Sled(c) => crate::sled::to_url(c),
            #[cfg(feature = "redis")]
            BackendConfig::Redis(c) => crate::redis::to_url(c),
            #[allow(unreachable_patterns)]
            _ => Err(UrlError::NotRepresentable {
                reason: "no backend compiled in".into(),
            }),
        }
    }

    /// The scheme this configuration is written with (`rediss` for a TLS redis URL,
    /// `redis+cluster` / `rediss+cluster` for a Redis Cluster).
    pub fn scheme(&self) -> &'static str {
        match self {
            #[cfg(feature = "mem")]
            BackendConfig::Mem(_) => "mem",
            #[cfg(feature = "file")]
            BackendConfig::File(_) => "file",
            #[cfg(feature = "rocks")]
            BackendConfig::Rocks(_) => "rocks",
            #[cfg(feature = "sled")]
            BackendConfig::Sled(_) => "sled",
            #[cfg(feature = "redis")]
            BackendConfig::Redis(c) if c.is_cluster() && c.is_tls() => "rediss+cluster",
            #[cfg(feature = "redis")]
            BackendConfig::Redis(c) if c.is_cluster() => "redis+cluster",
            #[cfg(feature = "redis")]
            BackendConfig::Redis(c) if c.is_tls() => "rediss",
            #[cfg(feature = "redis")]
            BackendConfig::Redis(_) => "redis",
            #[allow(unreachable_patterns)]
            _ => "none",
        }
    }

    /// Opens the store. Needs a tokio runtime (every backend spawns background work).
    pub async fn open(self) -> Result<Arc<dyn StorageBackend>, OpenError> {
        let scheme = self.scheme();
        let wrap = |source| OpenError::Backend { scheme, source };
        Ok(match self {
            #[cfg(feature = "mem")]
            BackendConfig::Mem(c) => {
                Arc::new(backend_mem::MemBackend::open(c).await.map_err(wrap)?)
            }
            #[cfg(feature = "file")]
            BackendConfig::File(c) => {
                Arc::new(backend_file::FileBackend::open(c).await.map_err(wrap)?)
            }
            #[cfg(feature = "rocks")]
            BackendConfig::Rocks(c) => {
                Arc::new(backend_rocks::RocksBackend::open(c).await.map_err(wrap)?)
            }
            #[cfg(feature = "sled")]
            BackendConfig::Sled(c) => {
                Arc::new(backend_sled::SledBackend::open(c).await.map_err(wrap)?)
            }
            #[cfg(feature = "redis")]
            BackendConfig::Redis(c) => {
                Arc::new(backend_redis::RedisBackend::open(c).await.map_err(wrap)?)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(OpenError::Url(UrlError::NotRepresentable {
                    reason: "no backend compiled in".into(),
                }));
            }
        })
    }
}

impl FromStr for BackendConfig {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        Self::from_url(url)
    }
}
