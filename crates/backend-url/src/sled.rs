//! `sled:///path?cache_capacity=256MiB&flush_every_ms=500&mode=high_throughput&watch_capacity=4096`

use backend_sled::{SledConfig, SledMode};

use crate::UrlError;
use crate::parse::{Parts, Query, render_path};
use crate::values::{bytes, choice, count, integer};

/// The parameters of `sled://`, each the [`SledConfig`] field of the same name.
pub const PARAMS: &[&str] = &["cache_capacity", "flush_every_ms", "mode", "watch_capacity"];

const MODE: &[(&str, SledMode)] = &[
    ("low_space", SledMode::LowSpace),
    ("high_throughput", SledMode::HighThroughput),
];

/// The config `sled:PATH?...` describes.
pub(crate) fn from_parts(mut parts: Parts) -> Result<SledConfig, UrlError> {
    let mut c = SledConfig::new(parts.path()?);
    let p = &mut parts.params;
    if let Some(v) = p.take("cache_capacity") {
        c = c.cache_capacity(bytes("cache_capacity", &v)?);
    }
    if let Some(v) = p.take("flush_every_ms") {
        c = c.flush_every_ms(match v.as_str() {
            "off" => None,
            _ => Some(integer("flush_every_ms", &v)?),
        });
    }
    if let Some(v) = p.take("mode") {
        c = c.mode(choice("mode", &v, MODE)?);
    }
    if let Some(v) = p.take("watch_capacity") {
        c = c.watch_capacity(count("watch_capacity", &v)?);
    }
    parts.params.finish("sled", PARAMS)?;
    Ok(c)
}

/// The URL that opens `c`.
pub(crate) fn to_url(c: &SledConfig) -> Result<String, UrlError> {
    let d = SledConfig::new(&c.path);
    let mut q = Query::default();
    q.push_if("cache_capacity", c.cache_capacity, d.cache_capacity);
    if c.flush_every_ms != d.flush_every_ms {
        match c.flush_every_ms {
            Some(ms) => q.push("flush_every_ms", ms),
            None => q.push("flush_every_ms", "off"),
        }
    }
    if c.mode != d.mode {
        let name = MODE
            .iter()
            .find(|(_, m)| *m == c.mode)
            .map_or("low_space", |(n, _)| *n);
        q.push("mode", name);
    }
    q.push_if("watch_capacity", c.watch_capacity, d.watch_capacity);
    Ok(q.finish(render_path("sled", &c.path)?))
}
