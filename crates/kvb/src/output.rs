//! Printing keys, values and records as text, hex or JSON.

use clap::ValueEnum;
use serde_json::{Value, json};

/// How bytes are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// UTF-8 as is; other bytes (and tabs, newlines, backslashes) escaped as `\xNN`,
    /// `\t`, `\n`, `\\`.
    Text,
    /// Lower-case hex.
    Hex,
    /// One JSON value per line: strings for UTF-8, `{"hex": "..."}` otherwise.
    Json,
}

pub use kv_transfer::hex::{decode as unhex, encode as hex};

/// `b` for a terminal or a tab-separated line.
pub fn text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.contains(['\t', '\n', '\r', '\\']) && !s.chars().any(char::is_control) => {
            s.to_owned()
        }
        _ => b.escape_ascii().to_string(),
    }
}

/// `b` as a JSON value.
pub fn json_bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "hex": hex(b) }),
    }
}

/// `b` in `format` (JSON: the serialised value).
pub fn bytes(format: Format, b: &[u8]) -> String {
    match format {
        Format::Text => text(b),
        Format::Hex => hex(b),
        Format::Json => json_bytes(b).to_string(),
    }
}

/// A pair: `key<TAB>value` (or the key alone), or a JSON object per line.
pub fn pair(format: Format, key: &[u8], value: Option<&[u8]>) -> String {
    match (format, value) {
        (Format::Json, Some(v)) => {
            json!({ "key": json_bytes(key), "value": json_bytes(v) }).to_string()
        }
        (Format::Json, None) => json!({ "key": json_bytes(key) }).to_string(),
        (f, Some(v)) => format!("{}\t{}", bytes(f, key), bytes(f, v)),
        (f, None) => bytes(f, key),
    }
}
