//! The connection every data call goes through: one standalone server (the `redis`
//! crate's `ConnectionManager`, reconnecting by itself) or a Redis Cluster (its async
//! cluster client: slot map, `MOVED`/`ASK` followed, reconnection and topology refresh
//! after a failover), and [`connect`], which opens it.

use std::time::Duration;

use backend_api::Result;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::RedisConfig;
use crate::error::Server;
use crate::tls;

/// A cheap-to-clone handle on the shared connection.
#[derive(Clone)]
pub(crate) enum Conn {
    /// A standalone server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The client for `config.url` (pub/sub connections are opened from it) and the shared
/// connection: a `ConnectionManager` (one quick retry, then reconnecting by itself) or
/// the cluster client's connection. Gives up after two connect timeouts and a response
/// timeout with `Unavailable`; refused credentials or TLS: `InvalidConfig`.
pub(crate) async fn connect(
    config: &RedisConfig,
    server: &Server,
) -> Result<(redis::Client, Conn)> {
    let client = tls::client(config)?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.response_timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    let deadline = config.connect_timeout * 2 + config.response_timeout;
    let connect = async {
        if config.is_cluster() {
            cluster_builder(config)
                .build()?
                .get_async_connection()
                .await
                .map(Conn::Cluster)
        } else {
            ConnectionManager::new_with_config(client.clone(), manager_config)
                .await
                .map(Conn::Single)
        }
    };
    match tokio::time::timeout(deadline, connect).await {
        Ok(Ok(conn)) => Ok((client, conn)),
        Ok(Err(err)) => Err(server.map_connect(err, config.connect_timeout)),
        Err(_) => Err(server.no_answer(deadline)),
    }
}

/// The cluster client settings for `config.cluster_nodes` with the configured timeouts
/// (the shared connection and each watch's own connection are built from them); the
/// client follows `MOVED`/`ASK` and refreshes its slot map after a failover, retrying a
/// call a few times within the call's deadline.
pub(crate) fn cluster_builder(config: &RedisConfig) -> redis::cluster::ClusterClientBuilder {
    redis::cluster::ClusterClientBuilder::new(config.cluster_nodes.clone())
        .connection_timeout(config.connect_timeout)
        .response_timeout(config.response_timeout)
        .retries(3)
        .min_retry_wait(50)
        .max_retry_wait(500)
}
