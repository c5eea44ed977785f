//! Open any kv-backends store from a URL, and write a configuration back as one.
//!
//! ```no_run
//! # async fn demo() -> Result<(), backend_url::OpenError> {
//! let store = backend_url::open("file:///var/lib/app/kv?sync=always").await?;
//! store.flush().await.map_err(|e| backend_url::OpenError::Backend { scheme: "file", source: e })?;
//! # Ok(()) }
//! ```
//!
//! | URL | backend | cargo feature | parameters (each the config field of that name) |
//! |---|---|---|---|
//! | `mem://` | `backend-mem` (a new empty store per open) | `mem` (default) | `max_memory`, `sweep_interval`, `sweep_budget`, `scan_chunk`, `watch_capacity` |
//! | `file:///abs/path`, `file:rel/path` | `backend-file` | `file` (default) | `sync` (`always`, `never`, `100ms`), `max_file_size`, `max_record_size`, `merge_trigger` (ratio or `off`), `merge_min_bytes`, `repair`, `watch_capacity` |
//! | `rocks:///path` | `backend-rocks` (compiles RocksDB's C++) | `rocks` | `sync_writes`, `block_cache_bytes`, `compression` (`none`, `lz4`), `write_buffer_bytes`, `watch_capacity` |
//! | `sled:///path` | `backend-sled` | `sled` | `cache_capacity`, `flush_every_ms` (number or `off`), `mode` (`low_space`, `high_throughput`), `watch_capacity` |
//! | `redis://[user:pass@]host[:port][/db]`, `rediss://...` | `backend-redis` | `redis` | `namespace`, `connect_timeout`, `response_timeout`, `scan_page`, `watch_capacity`, `write_ack_replicas`, `colocate_partitions`; redis-rs's `protocol` passes through |
//! | `redis+cluster://[user:pass@]host1:port1,host2:port2,...`, `rediss+cluster://...` | `backend-redis` on a Redis Cluster (each host a seed in `cluster_nodes`; no database number) | `redis` | as `redis://` |
//!
//! Sizes are bytes, optionally `KiB`, `MiB`, `GiB`; durations are `250ms`, `2s`, `5m`;
//! switches `true`/`false`. A path is %-escaped where it holds `%`, `?`, `#`, spaces or
//! bytes that are not printable ASCII. Errors are typed ([`UrlError`]) and name what is
//! wrong: an unknown scheme, a backend whose feature is off ("enable the `rocks`
//! feature"), an unknown parameter (with the list of known ones), a malformed value.
//!
//! [`BackendConfig`] is the parsed form: build it from a backend's own config type and
//! [`BackendConfig::to_url`] gives the URL that opens it.
#![deny(unsafe_code)]

mod config;
mod error;
#[cfg(feature = "file")]
mod file;
#[cfg(feature = "mem")]
mod mem;
mod parse;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "rocks")]
mod rocks;
#[cfg(feature = "sled")]
mod sled;
mod values;

use std::sync::Arc;

use backend_api::StorageBackend;

pub use config::{BackendConfig, SCHEMES};
pub use error::{OpenError, UrlError};
pub use values::duration as parse_duration;

/// Opens the store `url` names (see the crate docs for the forms). Needs a tokio
/// runtime.
pub async fn open(url: &str) -> Result<Arc<dyn StorageBackend>, OpenError> {
    BackendConfig::from_url(url)?.open().await
}

/// The canonical form of `url`: what [`BackendConfig::to_url`] writes for it.
pub fn canonical(url: &str) -> Result<String, UrlError> {
    BackendConfig::from_url(url)?.to_url()
}
