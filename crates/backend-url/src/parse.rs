//! Splitting a URL into scheme, location and query parameters, and writing one back.
//!
//! Our own small parser rather than the `url` crate: store URLs carry file-system paths
//! (relative ones too, `file:data/a`), which WHATWG URL parsing would rewrite.

use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::UrlError;

/// Bytes escaped in a path: anything a URL reader would take for a delimiter.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'?')
    .add(b'#')
    .add(b'"')
    .add(b'<')
    .add(b'>');
/// Bytes escaped in a query value: the path's plus the query's own delimiters.
const VALUE: &AsciiSet = &PATH.add(b'&').add(b'=').add(b'+');

/// A URL taken apart: `scheme:rest?params#fragment`.
#[derive(Debug)]
pub(crate) struct Parts {
    /// Lower-cased scheme.
    pub scheme: String,
    /// Everything between `scheme:` and `?` or `#`, not decoded.
    pub rest: String,
    /// The query parameters, decoded, in order.
    pub params: Params,
    /// The fragment without `#`, not decoded.
    pub fragment: Option<String>,
}

impl Parts {
    /// Splits `url`. Refuses text without a scheme, and parameters given twice or
    /// without `=`.
    pub fn split(url: &str) -> Result<Parts, UrlError> {
        let url = url.trim();
        let colon = url.find(':').ok_or_else(|| {
            UrlError::malformed("no scheme: expected `scheme://...`, e.g. `file:///var/lib/kv`")
        })?;
        let scheme = &url[..colon];
        if scheme.is_empty()
            || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(UrlError::malformed(format!(
                "`{}` is not a scheme: expected `scheme://...`, e.g. `file:///var/lib/kv`",
                scheme.chars().take(32).collect::<String>()
            )));
        }
        let after = &url[colon + 1..];
        let (before_fragment, fragment) = match after.find('#') {
            Some(i) => (&after[..i], Some(after[i + 1..].to_owned())),
            None => (after, None),
        };
        let (rest, query) = match before_fragment.find('?') {
            Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
            None => (before_fragment, None),
        };
        Ok(Parts {
            scheme: scheme.to_ascii_lowercase(),
            rest: rest.to_owned(),
            params: Params::parse(query.unwrap_or(""))?,
            fragment,
        })
    }

    /// The file-system path of a path URL: `scheme:///abs/path`,
    /// `scheme://localhost/abs/path`, `scheme:/abs/path` or `scheme:relative/path`.
    pub fn path(&self) -> Result<PathBuf, UrlError> {
        let raw = match self.rest.strip_prefix("//") {
            Some("") => "",
            Some(after) if after.starts_with('/') => after,
            Some(after) if after.starts_with("localhost/") => &after["localhost".len()..],
            Some(after) => {
                let host = after.split('/').next().unwrap_or_default();
                return Err(UrlError::malformed(format!(
                    "`{s}://` takes a path, not a host (`{host}`): write `{s}:///absolute/path` or `{s}:relative/path`",
                    s = self.scheme
                )));
            }
            None => self.rest.as_str(),
        };
        if raw.is_empty() {
            return Err(UrlError::malformed(format!(
                "`{s}:` needs a path: `{s}:///absolute/path` or `{s}:relative/path`",
                s = self.scheme
            )));
        }
        if self.fragment.is_some() {
            return Err(UrlError::malformed(format!(
                "`{}:` URLs take no `#fragment` (escape `#` in a path as %23)",
                self.scheme
            )));
        }
        decode_path(raw)
    }
}

#[cfg(unix)]
fn decode_path(raw: &str) -> Result<PathBuf, UrlError> {
    use std::os::unix::ffi::OsStringExt;
    let bytes: Vec<u8> = percent_decode_str(raw).collect();
    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(not(unix))]
fn decode_path(raw: &str) -> Result<PathBuf, UrlError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| PathBuf::from(s.into_owned()))
        .map_err(|_| UrlError::malformed("the path is not UTF-8 after %-decoding"))
}

/// `scheme:///abs` or `scheme:rel`, the path %-escaped where needed.
pub(crate) fn render_path(scheme: &str, path: &Path) -> Result<String, UrlError> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| UrlError::NotRepresentable {
            reason: "the path is not UTF-8".into(),
        })?
        .as_bytes()
        .to_vec();
    if bytes.is_empty() {
        return Err(UrlError::NotRepresentable {
            reason: "the path is empty".into(),
        });
    }
    let encoded: String = percent_encoding::percent_encode(&bytes, PATH).collect();
    Ok(if encoded.starts_with('/') {
        format!("{scheme}://{encoded}")
    } else {
        format!("{scheme}:{encoded}")
    })
}

/// Query parameters in order; each read once with [`Params::take`], the rest refused
/// by [`Params::finish`].
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Result<Params, UrlError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                UrlError::malformed(format!(
                    "parameter `{pair}` has no value: write `{pair}=...`"
                ))
            })?;
            let decode = |s: &str| {
                percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| UrlError::malformed(format!("parameter `{name}` is not UTF-8")))
            };
            let (name, value) = (decode(name)?, decode(value)?);
            if out.iter().any(|(n, _)| *n == name) {
                return Err(UrlError::DuplicateParam { param: name });
            }
            out.push((name, value));
        }
        Ok(Params(out))
    }

    /// Removes and returns parameter `name`.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }

    /// [`UrlError::UnknownParam`] for the first parameter not taken.
    pub fn finish(self, scheme: &str, allowed: &[&str]) -> Result<(), UrlError> {
        match self.0.into_iter().next() {
            None => Ok(()),
            Some((param, _)) => Err(UrlError::UnknownParam {
                scheme: scheme.to_owned(),
                param,
                allowed: if allowed.is_empty() {
                    "none (this backend takes no parameters)".to_owned()
                } else {
                    allowed.join(", ")
                },
            }),
        }
    }
}

/// Builds `base?a=1&b=2`, escaping values.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query(Vec<String>);

impl Query {
    /// Adds `name=value`.
    pub fn push(&mut self, name: &str, value: impl std::fmt::Display) {
        let value = value.to_string();
        self.0
            .push(format!("{name}={}", utf8_percent_encode(&value, VALUE)));
    }

    /// Adds `name=value` when `value` differs from `default`.
    pub fn push_if<T: PartialEq + std::fmt::Display>(&mut self, name: &str, value: T, default: T) {
        if value != default {
            self.push(name, value);
        }
    }

    /// `base` followed by the query, if any (`&` if `base` already has one).
    pub fn finish(self, base: String) -> String {
        if self.0.is_empty() {
            return base;
        }
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}{}", self.0.join("&"))
    }
}
