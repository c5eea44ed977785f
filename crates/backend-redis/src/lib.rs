//! A [`StorageBackend`](backend_api::StorageBackend) on a real Redis server (7.0 or
//! later), for stores shared by several processes or machines.
//!
//! ```no_run
//! use backend_api::{Partition, StorageBackend};
//! use backend_redis::{RedisBackend, RedisConfig};
//!
//! # async fn demo() -> backend_api::Result<()> {
//! let store = RedisBackend::open(RedisConfig::new("redis://127.0.0.1:6379/0").namespace("app")).await?;
//! let users = Partition::new("users")?;
//! store.create_partition(&users).await?;
//! store.put(&users, b"alice", b"1").await?;
//! assert_eq!(store.get(&users, b"alice").await?.as_deref(), Some(&b"1"[..]));
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! A namespace's data lives under keys starting `kvb:{<namespace>`; each partition's keys
//! carry the hash tag `{<namespace>:<partition>}` (one cluster slot per partition):
//! a value key per user key (`...:v:<key bytes>`, native TTL), a sorted set of the
//! partition's keys at score 0 (`...:i`) that ordered, prefix and reverse scans page
//! through with `ZRANGEBYLEX` / `ZREVRANGEBYLEX` (values fetched per page with one
//! `MGET`), a marker (`...:m`), and a registry set of partition names. Full table in
//! `docs/backend-redis.md`.
//!
//! Every write (put, delete, batch, conditional batch, CAS, create, drop) is one Lua
//! script run by SHA, keeping value keys and the index consistent and publishing its
//! change event in the same atomic step. A conditional batch evaluates its checks and
//! applies its operations inside one script; CAS is its one-key case.
//!
//! # Capabilities
//!
//! Declared by [`RedisConfig::capabilities`]: ordered_scan, reverse_scan, atomic_batch
//! (one script call; a missing partition or bad operation rejects it before anything
//! is written), cross_partition_batch (except on a cluster with a slot per partition),
//! compare_and_swap and
//! conditional_batch (checks and writes in one script), range_delete (inside the same
//! script; the client reads the range first and names its value keys), watch,
//! cross_process_watch (pub/sub, sharded pub/sub on a cluster: a write by any handle on
//! the same server or cluster and namespace is seen), ttl (native `PEXPIRE`; expired index entries are skipped by
//! scans and reclaimed; `scan_entries` reports each deadline), exact_len (counted by
//! a scan), persistent. Not:
//! snapshot_scan (pages are read one after the other), compact (the server manages its
//! own memory: `compact` answers `Unsupported`).
//!
//! # Durability
//!
//! | persistent | acknowledged write survives process kill | survives power loss |
//! |---|---|---|
//! | server's | yes (it is in the server) | per the server's AOF/RDB settings |
//!
//! "Reopen" means opening the same namespace on the same server: everything the server
//! still holds is there. `flush` only checks the server is reachable.
//!
//! # Failure behaviour
//!
//! No server at open: `Error::Unavailable` within about `connect_timeout`. Server gone
//! later: calls answer `Error::Unavailable` or `Error::Timeout` within
//! `connect_timeout + response_timeout`; the handle reconnects by itself when the
//! server returns. Credentials or TLS certificate refused: `Error::InvalidConfig`. A
//! watch whose connection ends (server gone, or the server dropped a slow subscriber)
//! yields `Error::Unavailable` and ends.
//!
//! Errors name the call and the server (`host:port`, never the password);
//! `Unavailable` and `Backend` keep the failed call as their `source()`, whose own
//! source is the client's `RedisError` (or the `io::Error` it wraps). Refused
//! credentials and TLS handshakes are recognised from error kinds and codes, not text.
//!
//! `close()` ends scans and watches and refuses later calls; the connection itself is
//! released when the handle (and any stream it handed out) is dropped.
//!
//! # Redis Cluster
//!
//! [`RedisConfig::cluster`] runs on a Redis Cluster through the `redis` crate's async
//! cluster client (`MOVED`/`ASK` followed, slot map refreshed after a failover). Each
//! partition is one slot (hash tag `{<namespace>:<partition>}`); a batch across
//! partitions is refused with `Error::Unsupported` unless
//! [`RedisConfig::colocate_partitions`] puts the namespace in one slot. Every script
//! gets every key it touches in `KEYS`, all in one slot. Watches use sharded pub/sub
//! (`SSUBSCRIBE`/`SPUBLISH`); when the partition's slot moves to another master the
//! stream yields one `Error::Unavailable` (events in between may be missed), subscribes
//! again and goes on.
//! [`RedisConfig::write_ack_replicas`] adds `WAIT n` to every write. Details and
//! failover measurements: `docs/backend-redis.md`.
//!
//! # TLS
//!
//! `rediss://host:port/db` connects over TLS (rustls with the `ring` provider, installed
//! as the process default on the first TLS open unless the application installed one).
//! The server certificate must chain to [`RedisConfig::tls_ca_cert`] (PEM), or to the
//! system's trust store when that is unset, and name the URL's host;
//! [`RedisConfig::tls_client_cert`] presents a client certificate to servers that ask
//! for one. A certificate the client does not trust, a host the certificate does not
//! name, or unreadable PEM: `Error::InvalidConfig`, at once.
#![deny(unsafe_code)]

mod backend;
mod batch;
mod calls;
mod config;
mod conn;
mod error;
mod event;
mod layout;
mod pager;
mod registry;
mod scan;
mod scripts;
mod sharded;
mod status;
mod tls;
mod watch;

pub use backend::RedisBackend;
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_NAMESPACE, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_SCAN_PAGE,
    DEFAULT_WATCH_CAPACITY, RedisConfig,
};
