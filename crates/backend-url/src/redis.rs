//! `redis://[user][:password@]host[:port][/db]?namespace=app&connect_timeout=2s&response_timeout=5s&scan_page=512&watch_capacity=4096`
//! and `rediss://...` for TLS. The server part goes to [`RedisConfig::url`] as written;
//! `protocol` and a `#insecure` fragment are redis-rs's own and pass through.

use backend_redis::RedisConfig;

use crate::UrlError;
use crate::parse::{Parts, Query};
use crate::values::{count, duration, render_duration};

/// Our parameters, each the [`RedisConfig`] field of the same name.
pub const PARAMS: &[&str] = &[
    "namespace",
    "connect_timeout",
    "response_timeout",
    "scan_page",
    "watch_capacity",
];
/// Parameters of the redis client itself, passed on in the server URL.
const CLIENT_PARAMS: &[&str] = &["protocol"];

/// The config `redis://...` describes.
pub(crate) fn from_parts(mut parts: Parts) -> Result<RedisConfig, UrlError> {
    let Some(authority_and_db) = parts.rest.strip_prefix("//") else {
        return Err(UrlError::malformed(format!(
            "`{}:` needs a server: `{}://host:port/db`",
            parts.scheme, parts.scheme
        )));
    };
    let host = authority_and_db.split('/').next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(UrlError::malformed(format!(
            "`{}://` needs a host: `{}://127.0.0.1:6379/0`",
            parts.scheme, parts.scheme
        )));
    }
    let db = authority_and_db
        .split_once('/')
        .map(|(_, db)| db)
        .unwrap_or("");
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(UrlError::malformed(format!(
            "the database after the host must be a number, found `/{db}`"
        )));
    }
    let p = &mut parts.params;
    let mut client = Query::default();
    for name in CLIENT_PARAMS {
        if let Some(v) = p.take(name) {
            client.push(name, v);
        }
    }
    let mut url = client.finish(format!("{}:{}", parts.scheme, parts.rest));
    if let Some(f) = &parts.fragment {
        url = format!("{url}#{f}");
    }
    let mut c = RedisConfig::new(url);
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
    let allowed: Vec<&str> = PARAMS.iter().chain(CLIENT_PARAMS).copied().collect();
    parts.params.finish(&parts.scheme, &allowed)?;
    Ok(c)
}

/// The URL that opens `c`. TLS certificates given as bytes have no URL form.
pub(crate) fn to_url(c: &RedisConfig) -> Result<String, UrlError> {
    if c.tls_ca_cert.is_some() || c.tls_client_cert.is_some() {
        return Err(UrlError::NotRepresentable {
            reason: "TLS certificates are set in code (RedisConfig::tls_ca_cert / tls_client_cert)"
                .into(),
        });
    }
    let d = RedisConfig::new(c.url.clone());
    let (base, fragment) = match c.url.split_once('#') {
        Some((b, f)) => (b.to_owned(), Some(f)),
        None => (c.url.clone(), None),
    };
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
    let url = q.finish(base);
    Ok(match fragment {
        Some(f) => format!("{url}#{f}"),
        None => url,
    })
}
