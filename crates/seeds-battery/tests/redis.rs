//! The seeds batteries on backend-redis: each store a fresh namespace on the
//! redis-server this test binary starts on a free loopback port (or `REDIS_TEST_URL`).

use std::sync::Arc;

use backend_api::{Result, StorageBackend, async_trait};
use backend_redis::{RedisBackend, RedisConfig};

/// A store is a fresh namespace on the shared test server; every open is a new handle
/// on it (so two handles share it).
struct RedisHarness;

#[async_trait]
impl conformance::Harness for RedisHarness {
    type Store = String;

    async fn create(&self) -> String {
        test_support::fresh_namespace()
    }

    async fn open(&self, namespace: &String) -> Result<Arc<dyn StorageBackend>> {
        let config = RedisConfig::new(test_support::shared_url()).namespace(namespace);
        Ok(Arc::new(RedisBackend::open(config).await?))
    }
}

seeds_battery::battery!(RedisHarness);
