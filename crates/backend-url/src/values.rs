//! Reading and writing parameter values: numbers, byte sizes, durations, switches.

use std::time::Duration;

use crate::UrlError;

fn bad(param: &str, value: &str, expected: &str) -> UrlError {
    UrlError::BadParam {
        param: param.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// `true` or `false`.
pub(crate) fn boolean(param: &str, value: &str) -> Result<bool, UrlError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(param, value, "`true` or `false`")),
    }
}

/// A decimal integer.
pub(crate) fn integer(param: &str, value: &str) -> Result<u64, UrlError> {
    value
        .parse()
        .map_err(|_| bad(param, value, "a whole number, e.g. 4096"))
}

/// A decimal integer that fits a `usize`.
pub(crate) fn count(param: &str, value: &str) -> Result<usize, UrlError> {
    integer(param, value)?
        .try_into()
        .map_err(|_| bad(param, value, "a smaller number"))
}

/// Bytes: a whole number, optionally with `KiB`, `MiB` or `GiB`.
pub(crate) fn bytes(param: &str, value: &str) -> Result<u64, UrlError> {
    let expected = "a byte count, e.g. 4096 or 64MiB (KiB, MiB, GiB)";
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let shift = match unit {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err(bad(param, value, expected)),
    };
    let n: u64 = digits.parse().map_err(|_| bad(param, value, expected))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| bad(param, value, "a smaller size"))
}

/// Bytes that fit a `usize`.
#[cfg_attr(not(feature = "rocks"), allow(dead_code))]
pub(crate) fn bytes_usize(param: &str, value: &str) -> Result<usize, UrlError> {
    bytes(param, value)?
        .try_into()
        .map_err(|_| bad(param, value, "a smaller size"))
}

/// A duration: `250ms`, `2s`, `5m` or `1h`; `param` names it in the error.
pub fn duration(param: &str, value: &str) -> Result<Duration, UrlError> {
    let expected = "a duration, e.g. 250ms, 2s, 5m or 1h";
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => value.split_at(i),
        None => return Err(bad(param, value, expected)),
    };
    let n: u64 = digits.parse().map_err(|_| bad(param, value, expected))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(bad(param, value, expected)),
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| bad(param, value, "a shorter duration"))
}

/// A duration as [`duration`] reads it: whole seconds as `Ns`, else `Nms`. Durations
/// with a fraction of a millisecond have no URL form.
pub(crate) fn render_duration(param: &str, d: Duration) -> Result<String, UrlError> {
    if !d.subsec_nanos().is_multiple_of(1_000_000) || d.as_millis() > u64::MAX as u128 {
        return Err(UrlError::NotRepresentable {
            reason: format!("`{param}` = {d:?} is not a whole number of milliseconds"),
        });
    }
    let ms = d.as_millis() as u64;
    Ok(if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

/// One of `choices` (name, value).
#[cfg_attr(not(any(feature = "rocks", feature = "sled")), allow(dead_code))]
pub(crate) fn choice<T: Copy>(
    param: &str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, UrlError> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("`{n}`")).collect();
            bad(param, value, &names.join(" or "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes("x", "64MiB"), Ok(64 << 20));
        assert_eq!(bytes("x", "17"), Ok(17));
        assert!(bytes("x", "64MB").is_err());
        assert!(bytes("x", "99999999999999GiB").is_err());
        assert_eq!(duration("x", "2s"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("x", "250ms"), Ok(Duration::from_millis(250)));
        assert!(duration("x", "250").is_err());
        assert!(duration("x", "ms").is_err());
        assert_eq!(
            render_duration("x", Duration::from_millis(1500)).unwrap(),
            "1500ms"
        );
        assert_eq!(render_duration("x", Duration::from_secs(3)).unwrap(), "3s");
        assert!(render_duration("x", Duration::from_micros(1)).is_err());
    }
}
