//! `rocks:///path?sync_writes=true&block_cache_bytes=64MiB&compression=lz4&write_buffer_bytes=16MiB&watch_capacity=4096`

use backend_rocks::{RocksCompression, RocksConfig};

use crate::UrlError;
use crate::parse::{Parts, Query, render_path};
use crate::values::{boolean, bytes_usize, choice, count};

/// The parameters of `rocks://`, each the [`RocksConfig`] field of the same name.
pub const PARAMS: &[&str] = &[
    "sync_writes",
    "block_cache_bytes",
    "compression",
    "write_buffer_bytes",
    "watch_capacity",
];

const COMPRESSION: &[(&str, RocksCompression)] = &[
    ("none", RocksCompression::None),
    ("lz4", RocksCompression::Lz4),
];

/// The config `rocks:PATH?...` describes.
pub(crate) fn from_parts(mut parts: Parts) -> Result<RocksConfig, UrlError> {
    let mut c = RocksConfig::new(parts.path()?);
    let p = &mut parts.params;
    if let Some(v) = p.take("sync_writes") {
        c = c.sync_writes(boolean("sync_writes", &v)?);
    }
    if let Some(v) = p.take("block_cache_bytes") {
        c = c.block_cache_bytes(bytes_usize("block_cache_bytes", &v)?);
    }
    if let Some(v) = p.take("compression") {
        c = c.compression(choice("compression", &v, COMPRESSION)?);
    }
    if let Some(v) = p.take("write_buffer_bytes") {
        c = c.write_buffer_bytes(bytes_usize("write_buffer_bytes", &v)?);
    }
    if let Some(v) = p.take("watch_capacity") {
        c = c.watch_capacity(count("watch_capacity", &v)?);
    }
    parts.params.finish("rocks", PARAMS)?;
    Ok(c)
}

/// The URL that opens `c`.
pub(crate) fn to_url(c: &RocksConfig) -> Result<String, UrlError> {
    let d = RocksConfig::new(&c.path);
    let mut q = Query::default();
    q.push_if("sync_writes", c.sync_writes, d.sync_writes);
    q.push_if(
        "block_cache_bytes",
        c.block_cache_bytes,
        d.block_cache_bytes,
    );
    if c.compression != d.compression {
        let name = COMPRESSION
            .iter()
            .find(|(_, v)| *v == c.compression)
            .map(|(n, _)| *n)
            .ok_or_else(|| UrlError::NotRepresentable {
                reason: format!("compression {:?} has no URL name", c.compression),
            })?;
        q.push("compression", name);
    }
    q.push_if(
        "write_buffer_bytes",
        c.write_buffer_bytes,
        d.write_buffer_bytes,
    );
    q.push_if("watch_capacity", c.watch_capacity, d.watch_capacity);
    Ok(q.finish(render_path("rocks", &c.path)?))
}
