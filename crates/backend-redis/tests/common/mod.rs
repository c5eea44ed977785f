//! Test servers (the workspace's one launcher, `test-support`: a real `redis-server` from
//! PATH on a free loopback port, persistence off, or the server named by
//! `REDIS_TEST_URL`), a local cluster, and the conformance harness.
#![allow(dead_code, unused_imports)]

pub use test_support::cluster;

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_redis::{RedisBackend, RedisConfig};
pub use test_support::{Server, free_port, fresh_namespace, shared_url};

/// Opens a handle on `namespace` of the shared server.
pub async fn open(namespace: &str) -> Result<RedisBackend> {
    RedisBackend::open(RedisConfig::new(shared_url()).namespace(namespace)).await
}

/// The conformance harness: a store is a fresh namespace on the shared server.
#[derive(Clone, Copy, Debug, Default)]
pub struct RedisHarness;

#[async_trait]
impl conformance::Harness for RedisHarness {
    type Store = String;

    async fn create(&self) -> String {
        fresh_namespace()
    }

    async fn open(&self, store: &String) -> Result<Arc<dyn StorageBackend>> {
        Ok(Arc::new(open(store).await?))
    }
}
