//! Redis Cluster configs as URLs: `redis+cluster://seed1,seed2?...` reads into the config
//! `RedisConfig::cluster` builds, and every cluster config with a URL form renders to
//! the URL that reads back into it; bad URLs answer typed errors.
#![cfg(feature = "redis")]

use std::time::Duration;

use backend_redis::RedisConfig;
use backend_url::{BackendConfig, UrlError, canonical};

fn redis(url: &str) -> RedisConfig {
    match BackendConfig::from_url(url) {
        Ok(BackendConfig::Redis(c)) => c,
        other => panic!("{url}: {other:?}"),
    }
}

/// Every field the URL carries (RedisConfig has no `PartialEq`; its `Debug` redacts).
fn fields(c: &RedisConfig) -> impl PartialEq + std::fmt::Debug {
    (
        c.url.clone(),
        c.cluster_nodes.clone(),
        c.namespace.clone(),
        c.connect_timeout,
        c.response_timeout,
        c.scan_page,
        c.watch_capacity,
        c.colocate_partitions,
        c.write_ack_replicas,
    )
}

/// config -> URL -> the same config, and the URL is `expected`.
fn round_trip(c: RedisConfig, expected: &str) {
    let url = BackendConfig::Redis(c.clone()).to_url().unwrap();
    assert_eq!(url, expected);
    assert_eq!(fields(&redis(&url)), fields(&c), "{url}");
    assert_eq!(canonical(&url).unwrap(), url);
}

#[test]
fn cluster_configs_render_to_urls_that_read_back_into_them() {
    round_trip(
        RedisConfig::cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7001"]),
        "redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
    );
    round_trip(
        RedisConfig::cluster(["redis://h:7000"])
            .namespace("app")
            .colocate_partitions(true)
            .write_ack_replicas(1)
            .response_timeout(Duration::from_secs(1)),
        "redis+cluster://h:7000?namespace=app&response_timeout=1s&write_ack_replicas=1&colocate_partitions=true",
    );
    round_trip(
        RedisConfig::cluster([
            "rediss://u:pw@a:1?protocol=resp3#insecure",
            "rediss://u:pw@b:2?protocol=resp3#insecure",
            "rediss://u:pw@[::1]:3?protocol=resp3#insecure",
        ])
        .scan_page(64),
        "rediss+cluster://u:pw@a:1,b:2,[::1]:3?protocol=resp3&scan_page=64#insecure",
    );
    // The new fields on one server too.
    round_trip(
        RedisConfig::new("redis://h:1/2").write_ack_replicas(2),
        "redis://h:1/2?write_ack_replicas=2",
    );
}

#[test]
fn a_cluster_url_names_every_seed_with_the_shared_parts() {
    let c = redis("rediss+cluster://u:pw@a:1,b:2/?protocol=resp3&namespace=n#insecure");
    assert_eq!(
        c.cluster_nodes,
        [
            "rediss://u:pw@a:1?protocol=resp3#insecure",
            "rediss://u:pw@b:2?protocol=resp3#insecure"
        ]
    );
    assert_eq!(c.url, c.cluster_nodes[0]);
    assert!(c.is_cluster() && c.is_tls());
    assert!(!c.colocate_partitions);
    assert_eq!(c.namespace_name(), "n");
    let config = BackendConfig::Redis(c);
    assert_eq!(config.scheme(), "rediss+cluster");
    assert_eq!(
        config.to_url().unwrap(),
        "rediss+cluster://u:pw@a:1,b:2?protocol=resp3&namespace=n#insecure"
    );
    assert!(!redis("redis://h:1/0").is_cluster());
}

#[test]
fn bad_cluster_urls_are_typed_errors() {
    for (url, needle) in [
        ("redis+cluster:h:1", "needs a server"),
        ("redis+cluster://", "needs a host"),
        ("redis+cluster://a:1,,b:2", "needs a host"),
        ("redis+cluster://a:1,:2", "needs a host"),
        ("redis+cluster://a:1/3", "no database number"),
    ] {
        match BackendConfig::from_url(url) {
            Err(e @ UrlError::Malformed { .. }) => {
                assert!(e.to_string().contains(needle), "{url}: {e}")
            }
            other => panic!("{url}: expected Malformed, got {other:?}"),
        }
    }
    for (url, param) in [
        (
            "redis+cluster://a:1?write_ack_replicas=x",
            "write_ack_replicas",
        ),
        (
            "redis+cluster://a:1?colocate_partitions=yes",
            "colocate_partitions",
        ),
        ("redis://a:1/0?write_ack_replicas=-1", "write_ack_replicas"),
    ] {
        match BackendConfig::from_url(url) {
            Err(UrlError::BadParam { param: p, .. }) => assert_eq!(p, param, "{url}"),
            other => panic!("{url}: expected BadParam, got {other:?}"),
        }
    }
    match BackendConfig::from_url("redis+cluster://a:1?cluster_nodes=b:2") {
        Err(e @ UrlError::UnknownParam { .. }) => {
            assert!(e.to_string().contains("colocate_partitions"), "{e}")
        }
        other => panic!("expected UnknownParam, got {other:?}"),
    }
}

#[test]
fn cluster_configs_without_a_url_form_say_why() {
    for c in [
        RedisConfig::cluster(["redis://u:a@h1:1", "redis://u:b@h2:2"]),
        RedisConfig::cluster(["redis://h1:1", "rediss://h2:2"]),
        RedisConfig::cluster(["redis://h1:1/3"]),
        RedisConfig::cluster(["redis://h1:1?protocol=resp3", "redis://h2:2"]),
        RedisConfig::cluster(["h1:1"]),
    ] {
        let nodes = c.cluster_nodes.clone();
        match BackendConfig::Redis(c).to_url() {
            Err(UrlError::NotRepresentable { reason }) => {
                assert!(reason.contains("cluster seeds"), "{nodes:?}: {reason}")
            }
            other => panic!("{nodes:?}: expected NotRepresentable, got {other:?}"),
        }
    }
}
