//! `mem://?max_memory=64MiB&sweep_interval=100ms&sweep_budget=10000&scan_chunk=256&watch_capacity=4096`

use backend_mem::MemConfig;

use crate::UrlError;
use crate::parse::{Parts, Query};
use crate::values::{bytes, count, duration, render_duration};

/// The parameters of `mem://`, each the [`MemConfig`] field of the same name.
pub const PARAMS: &[&str] = &[
    "max_memory",
    "sweep_interval",
    "sweep_budget",
    "scan_chunk",
    "watch_capacity",
];

/// The config `mem://...` describes. Each open makes a new, empty store.
pub(crate) fn from_parts(mut parts: Parts) -> Result<MemConfig, UrlError> {
    if !(parts.rest.is_empty() || parts.rest == "//") || parts.fragment.is_some() {
        return Err(UrlError::malformed(
            "`mem://` takes no host or path, only parameters: `mem://?max_memory=64MiB`",
        ));
    }
    let p = &mut parts.params;
    let mut c = MemConfig::new();
    if let Some(v) = p.take("max_memory") {
        c.max_memory = match v.as_str() {
            "none" => None,
            _ => Some(bytes("max_memory", &v)?),
        };
    }
    if let Some(v) = p.take("sweep_interval") {
        c.sweep_interval = duration("sweep_interval", &v)?;
    }
    if let Some(v) = p.take("sweep_budget") {
        c.sweep_budget = count("sweep_budget", &v)?;
    }
    if let Some(v) = p.take("scan_chunk") {
        c.scan_chunk = count("scan_chunk", &v)?;
    }
    if let Some(v) = p.take("watch_capacity") {
        c.watch_capacity = count("watch_capacity", &v)?;
    }
    parts.params.finish("mem", PARAMS)?;
    Ok(c)
}

/// The URL that opens `c`: `mem://` plus each setting that differs from the default.
pub(crate) fn to_url(c: &MemConfig) -> Result<String, UrlError> {
    let d = MemConfig::new();
    let mut q = Query::default();
    if let Some(cap) = c.max_memory {
        q.push("max_memory", cap);
    }
    if c.sweep_interval != d.sweep_interval {
        q.push(
            "sweep_interval",
            render_duration("sweep_interval", c.sweep_interval)?,
        );
    }
    q.push_if("sweep_budget", c.sweep_budget, d.sweep_budget);
    q.push_if("scan_chunk", c.scan_chunk, d.scan_chunk);
    q.push_if("watch_capacity", c.watch_capacity, d.watch_capacity);
    Ok(q.finish("mem://".to_owned()))
}
