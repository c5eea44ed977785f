//! `redis://[user][:password@]host[:port][/db]?namespace=app&connect_timeout=2s&response_timeout=5s&scan_page=512&watch_capacity=4096`
//! and `rediss://...` for TLS. The server part goes to [`RedisConfig::url`] as written;
//! `protocol` and a `#insecure` fragment are redis-rs's own and pass through.
//!
//! A Redis Cluster: `redis+cluster://[user][:password@]host1:port1,host2:port2,...?params`
//! (`rediss+cluster://` for TLS). Each seed becomes `redis://[user:password@]host:port`
//! in [`RedisConfig::cluster_nodes`] (credentials, `protocol` and the fragment shared by
//! every seed); no database number (a cluster has only database 0). The same parameters,
//! plus `colocate_partitions` and `write_ack_replicas` (also on one server).

use backend_redis::RedisConfig;

use crate::UrlError;
use crate::parse::{Parts, Query};
use crate::values::{boolean, count, duration, render_duration};

/// Our parameters, each the [`RedisConfig`] field of the same name.
pub const PARAMS: &[&str] = &[
    "namespace",
    "connect_timeout",
    "response_timeout",
    "scan_page",
    "watch_capacity",
    "write_ack_replicas",
    "colocate_partitions",
];
/// Parameters of the redis client itself, passed on in the server URL.
const CLIENT_PARAMS: &[&str] = &["protocol"];
/// What a cluster scheme ends with.
const CLUSTER: &str = "+cluster";

/// The config `redis://...` or `redis+cluster://...` describes.
pub(crate) fn from_parts(mut parts: Parts) -> Result<RedisConfig, UrlError> {
    let Some(authority_and_db) = parts.rest.strip_prefix("//") else {
        return Err(UrlError::malformed(format!(
            "`{}:` needs a server: `{}://host:port{}`",
            parts.scheme,
            parts.scheme,
            if parts.scheme.ends_with(CLUSTER) {
                ""
            } else {
                "/db"
            }
        )));
    };
    let (authority, db) = authority_and_db
        .split_once('/')
        .unwrap_or((authority_and_db, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((user, hosts)) => (Some(user), hosts),
        None => (None, authority),
    };
    let mut client = Query::default();
    for name in CLIENT_PARAMS {
        if let Some(v) = parts.params.take(name) {
            client.push(name, v);
        }
    }
    let fragment = parts.fragment.as_ref().map(|f| format!("#{f}"));
    let fragment = fragment.as_deref().unwrap_or("");
    let c = match parts.scheme.strip_suffix(CLUSTER) {
        Some(base) => {
            if !db.is_empty() {
                return Err(UrlError::malformed(format!(
                    "a cluster has no database number: drop `/{db}`"
                )));
            }
            let mut nodes = Vec::new();
            for host in hosts.split(',') {
                check_host(&parts.scheme, host)?;
                let user = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
                let node = client.clone().finish(format!("{base}://{user}{host}"));
                nodes.push(format!("{node}{fragment}"));
            }
            RedisConfig::cluster(nodes)
        }
        None => {
            check_host(&parts.scheme, hosts)?;
            if !db.is_empty() && db.parse::<u32>().is_err() {
                return Err(UrlError::malformed(format!(
                    "the database after the host must be a number, found `/{db}`"
                )));
            }
            let url = client.finish(format!("{}:{}", parts.scheme, parts.rest));
            RedisConfig::new(format!("{url}{fragment}"))
        }
    };
    let c = with_params(c, &mut parts)?;
    let allowed: Vec<&str> = PARAMS.iter().chain(CLIENT_PARAMS).copied().collect();
    parts.params.finish(&parts.scheme, &allowed)?;
    Ok(c)
}

/// Malformed unless `host` names one (`host[:port]`).
fn check_host(scheme: &str, host: &str) -> Result<(), UrlError> {
    if host.is_empty() || host.starts_with(':') {
        let example = if scheme.ends_with(CLUSTER) {
            "10.0.0.1:7000,10.0.0.2:7000"
        } else {
            "127.0.0.1:6379/0"
        };
        return Err(UrlError::malformed(format!(
            "`{scheme}://` needs a host for every server: `{scheme}://{example}`"
        )));
    }
    Ok(())
}

/// `c` with our parameters taken from `parts`.
fn with_params(mut c: RedisConfig, parts: &mut Parts) -> Result<RedisConfig, UrlError> {
    let p = &mut parts.params;
    if let Some(v) = p.take("namespace") {
        c = c.namespace(v);
    }
    if let Some(v) = p.take("connect_timeout") {
        c = c.connect_timeout(duration("connect_timeout", &v)?);
    }
    if let Some(v) = p.take("response_timeout") {
        c = c.response_timeout(duration("response_timeout", &v)?);
    }
    if let Some(v) = p.take("scan_page") {
        c = c.scan_page(count("scan_page", &v)?);
    }
    if let Some(v) = p.take("watch_capacity") {
        c = c.watch_capacity(count("watch_capacity", &v)?);
    }
    if let Some(v) = p.take("write_ack_replicas") {
        c = c.write_ack_replicas(count("write_ack_replicas", &v)?);
    }
    if let Some(v) = p.take("colocate_partitions") {
        c = c.colocate_partitions(boolean("colocate_partitions", &v)?);
    }
    Ok(c)
}

/// A server URL taken apart: `scheme://[userinfo@]host[/path][?query][#fragment]`.
#[derive(PartialEq, Eq)]
struct Server<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    path: &'a str,
    query: &'a str,
    fragment: &'a str,
}

impl<'a> Server<'a> {
    fn split(url: &'a str) -> Option<Server<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        Some(Server {
            scheme,
            userinfo,
            host,
            path,
            query,
            fragment,
        })
    }

    /// The same server but for its host.
    fn same_but_host(&self, other: &Server<'_>) -> bool {
        (
            self.scheme,
            self.userinfo,
            self.path,
            self.query,
            self.fragment,
        ) == (
            other.scheme,
            other.userinfo,
            other.path,
            other.query,
            other.fragment,
        )
    }
}

/// The URL that opens `c`. TLS certificates given as bytes have no URL form, nor have
/// cluster seeds that differ in anything but their host (scheme, credentials, client
/// options) or that carry a path.
pub(crate) fn to_url(c: &RedisConfig) -> Result<String, UrlError> {
    if c.tls_ca_cert.is_some() || c.tls_client_cert.is_some() {
        return Err(UrlError::NotRepresentable {
            reason: "TLS certificates are set in code (RedisConfig::tls_ca_cert / tls_client_cert)"
                .into(),
        });
    }
    let server = if c.is_cluster() {
        cluster_server(c)?
    } else {
        c.url.clone()
    };
    let (base, fragment) = match server.split_once('#') {
        Some((b, f)) => (b.to_owned(), Some(f)),
        None => (server, None),
    };
    let d = RedisConfig::new(c.url.clone());
    let mut q = Query::default();
    q.push_if("namespace", c.namespace.as_str(), d.namespace.as_str());
    if c.connect_timeout != d.connect_timeout {
        q.push(
            "connect_timeout",
            render_duration("connect_timeout", c.connect_timeout)?,
        );
    }
    if c.response_timeout != d.response_timeout {
        q.push(
            "response_timeout",
            render_duration("response_timeout", c.response_timeout)?,
        );
    }
    q.push_if("scan_page", c.scan_page, d.scan_page);
    q.push_if("watch_capacity", c.watch_capacity, d.watch_capacity);
    q.push_if(
        "write_ack_replicas",
        c.write_ack_replicas,
        d.write_ack_replicas,
    );
    q.push_if(
        "colocate_partitions",
        c.colocate_partitions,
        d.colocate_partitions,
    );
    let url = q.finish(base);
    Ok(match fragment {
        Some(f) => format!("{url}#{f}"),
        None => url,
    })
}

/// `scheme+cluster://[userinfo@]h1,h2[?query][#fragment]` for the seeds of `c`.
fn cluster_server(c: &RedisConfig) -> Result<String, UrlError> {
    let not = |reason: &str| UrlError::NotRepresentable {
        reason: format!("cluster seeds {:?}: {reason}", c.cluster_nodes),
    };
    let seeds: Vec<Server<'_>> = c
        .cluster_nodes
        .iter()
        .map(|n| Server::split(n).ok_or_else(|| not("a seed is not `redis://host:port`")))
        .collect::<Result<_, _>>()?;
    let first = &seeds[0];
    if !matches!(first.scheme, "redis" | "rediss")
        || !first.path.is_empty()
        || seeds
            .iter()
            .any(|s| s.host.is_empty() || s.host.contains(','))
    {
        return Err(not(
            "each must be `redis://host:port` or `rediss://...` without a database",
        ));
    }
    if seeds.iter().any(|s| !s.same_but_host(first)) {
        return Err(not("they differ in scheme, credentials or client options"));
    }
    if c.url != c.cluster_nodes[0] {
        return Err(not(
            "`url` is not the first seed (set it with RedisConfig::cluster)",
        ));
    }
    let user = first.userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let hosts: Vec<&str> = seeds.iter().map(|s| s.host).collect();
    let mut out = format!("{}{CLUSTER}://{user}{}", first.scheme, hosts.join(","));
    if !first.query.is_empty() {
        out = format!("{out}?{}", first.query);
    }
    if !first.fragment.is_empty() {
        out = format!("{out}#{}", first.fragment);
    }
    Ok(out)
}
