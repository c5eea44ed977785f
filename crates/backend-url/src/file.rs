//! `file:///path?sync=always&max_file_size=64MiB&max_record_size=...&merge_trigger=0.5&merge_min_bytes=16MiB&repair=false&watch_capacity=4096`

use backend_file::{FileConfig, SyncPolicy};

use crate::UrlError;
use crate::parse::{Parts, Query, render_path};
use crate::values::{boolean, bytes, count};

/// The parameters of `file://`, each the [`FileConfig`] field of the same name.
pub const PARAMS: &[&str] = &[
    "sync",
    "max_file_size",
    "max_record_size",
    "merge_trigger",
    "merge_min_bytes",
    "repair",
    "watch_capacity",
];

fn sync(value: &str) -> Result<SyncPolicy, UrlError> {
    match value {
        "always" => Ok(SyncPolicy::Always),
        "never" => Ok(SyncPolicy::Never),
        _ => value
            .strip_suffix("ms")
            .and_then(|n| n.parse().ok())
            .map(SyncPolicy::EveryMs)
            .ok_or_else(|| UrlError::BadParam {
                param: "sync".into(),
                value: value.into(),
                expected: "`always`, `never` or an interval such as `100ms`".into(),
            }),
    }
}

fn render_sync(s: SyncPolicy) -> String {
    match s {
        SyncPolicy::Always => "always".into(),
        SyncPolicy::Never => "never".into(),
        SyncPolicy::EveryMs(n) => format!("{n}ms"),
    }
}

/// The config `file:PATH?...` describes.
pub(crate) fn from_parts(mut parts: Parts) -> Result<FileConfig, UrlError> {
    let mut c = FileConfig::new(parts.path()?);
    let p = &mut parts.params;
    if let Some(v) = p.take("sync") {
        c = c.sync_policy(sync(&v)?);
    }
    if let Some(v) = p.take("max_file_size") {
        c = c.max_file_size(bytes("max_file_size", &v)?);
    }
    if let Some(v) = p.take("max_record_size") {
        c = c.max_record_size(bytes("max_record_size", &v)?);
    }
    if let Some(v) = p.take("merge_trigger") {
        let trigger = match v.as_str() {
            "off" => None,
            _ => Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|r| *r > 0.0 && *r < 1.0)
                    .ok_or_else(|| UrlError::BadParam {
                        param: "merge_trigger".into(),
                        value: v.clone(),
                        expected: "a ratio strictly between 0 and 1, or `off`".into(),
                    })?,
            ),
        };
        c = c.merge_trigger(trigger);
    }
    if let Some(v) = p.take("merge_min_bytes") {
        c = c.merge_min_bytes(bytes("merge_min_bytes", &v)?);
    }
    if let Some(v) = p.take("repair") {
        c = c.repair(boolean("repair", &v)?);
    }
    if let Some(v) = p.take("watch_capacity") {
        c = c.watch_capacity(count("watch_capacity", &v)?);
    }
    parts.params.finish("file", PARAMS)?;
    Ok(c)
}

/// The URL that opens `c`: its path plus each setting that differs from the default.
pub(crate) fn to_url(c: &FileConfig) -> Result<String, UrlError> {
    let d = FileConfig::new(&c.dir);
    let mut q = Query::default();
    if c.sync != d.sync {
        q.push("sync", render_sync(c.sync));
    }
    q.push_if("max_file_size", c.max_file_size, d.max_file_size);
    q.push_if("max_record_size", c.max_record_size, d.max_record_size);
    if c.merge_trigger != d.merge_trigger {
        match c.merge_trigger {
            Some(r) => q.push("merge_trigger", r),
            None => q.push("merge_trigger", "off"),
        }
    }
    q.push_if("merge_min_bytes", c.merge_min_bytes, d.merge_min_bytes);
    q.push_if("repair", c.repair, d.repair);
    q.push_if("watch_capacity", c.watch_capacity, d.watch_capacity);
    Ok(q.finish(render_path("file", &c.dir)?))
}
