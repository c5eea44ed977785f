//! A value header carrying an optional expiry deadline, for engines without native TTL.
//!
//! Layout: one tag byte, then for tag `1` an 8-byte big-endian deadline in milliseconds
//! since the Unix epoch, then the user's value. Tag `0` has no deadline.
//!
//! | tag | bytes | meaning |
//! |---|---|---|
//! | `0x00` | `00 value…` | never expires |
//! | `0x01` | `01 deadline_ms[8] value…` | invisible once `now_ms >= deadline_ms` |

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_api::{Bytes, Entry, Error, Result};

const NO_EXPIRY: u8 = 0;
const EXPIRES: u8 = 1;
/// Largest header size, in bytes.
pub const MAX_HEADER_LEN: usize = 9;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The deadline of a write made now with `ttl`.
pub fn deadline_ms(ttl: Duration) -> u64 {
    now_ms().saturating_add(ttl.as_millis().min(u64::MAX as u128) as u64)
}

/// The deadline of a write made now with `ttl` as an `Instant`; `None` when it lies
/// beyond what `Instant` can represent (a TTL of `Duration::MAX`): it never expires.
pub fn deadline_instant(ttl: Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(ttl)
}

/// The moment `deadline_ms` (ms since the Unix epoch) names, for
/// [`Entry::expires_at`](backend_api::Entry::expires_at); `None` when it does not fit a
/// `SystemTime` (as far as "never").
pub fn deadline_time(deadline_ms: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_millis(deadline_ms))
}

/// A scan entry from a key and its stored bytes (header, then the user's value, or the
/// header alone for a keys-only scan): the value shares `stored`'s buffer.
/// Malformed bytes are `Error::Corruption`.
pub fn entry(key: Bytes, stored: Bytes) -> Result<Entry> {
    let (deadline, value) = decode(&stored)?;
    let header_len = stored.len() - value.len();
    Ok(Entry::new(
        key,
        stored.slice(header_len..),
        deadline.and_then(deadline_time),
    ))
}

/// True once `deadline` has passed.
pub fn is_expired(deadline: Option<u64>, now: u64) -> bool {
    deadline.is_some_and(|d| now >= d)
}

/// `value` with a header for `deadline`.
pub fn encode(value: &[u8], deadline: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_HEADER_LEN + value.len());
    match deadline {
        None => out.push(NO_EXPIRY),
        Some(d) => {
            out.push(EXPIRES);
            out.extend_from_slice(&d.to_be_bytes());
        }
    }
    out.extend_from_slice(value);
    out
}

/// Splits a stored value into its deadline and the user's value.
pub fn decode(stored: &[u8]) -> Result<(Option<u64>, &[u8])> {
    match stored.split_first() {
        Some((&NO_EXPIRY, rest)) => Ok((None, rest)),
        Some((&EXPIRES, rest)) if rest.len() >= 8 => {
            let (deadline, value) = rest.split_at(8);
            let deadline = u64::from_be_bytes(deadline.try_into().expect("8 bytes"));
            Ok((Some(deadline), value))
        }
        Some((tag, _)) => Err(Error::corruption(format!(
            "value header: unknown tag {tag:#04x} or short deadline ({} bytes stored)",
            stored.len()
        ))),
        None => Err(Error::corruption("value header: stored value is empty")),
    }
}

/// The user's value if it has not expired at `now`.
pub fn live_value(stored: &[u8], now: u64) -> Result<Option<&[u8]>> {
    let (deadline, value) = decode(stored)?;
    Ok((!is_expired(deadline, now)).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_expires() {
        for deadline in [None, Some(0), Some(u64::MAX)] {
            for value in [&b""[..], b"v", &[0xFF; 40]] {
                let stored = encode(value, deadline);
                assert_eq!(decode(&stored).unwrap(), (deadline, value));
            }
        }
        assert_eq!(
            live_value(&encode(b"v", Some(10)), 9).unwrap(),
            Some(&b"v"[..])
        );
        assert_eq!(live_value(&encode(b"v", Some(10)), 10).unwrap(), None);
        assert!(deadline_ms(Duration::ZERO) <= now_ms());
        assert_eq!(
            deadline_ms(Duration::MAX),
            u64::MAX,
            "saturates, never wraps"
        );
        assert!(deadline_instant(Duration::MAX).is_none());
        assert!(deadline_instant(Duration::from_secs(1)).is_some());
    }

    #[test]
    fn entries_carry_the_deadline_and_share_the_value() {
        let stored = Bytes::from(encode(b"value", Some(1_500)));
        let e = entry(Bytes::from_static(b"k"), stored).unwrap();
        assert_eq!(&e.value[..], b"value");
        assert_eq!(
            e.expires_at,
            Some(UNIX_EPOCH + Duration::from_millis(1_500))
        );
        let plain = entry(Bytes::from_static(b"k"), Bytes::from(encode(b"", None))).unwrap();
        assert_eq!((plain.value.len(), plain.expires_at), (0, None));
        let header_only = Bytes::from(encode(b"", Some(7)));
        assert!(
            entry(Bytes::from_static(b"k"), header_only)
                .unwrap()
                .value
                .is_empty()
        );
        assert!(deadline_time(u64::MAX).is_some_and(|t| t > SystemTime::now()));
        assert!(entry(Bytes::from_static(b"k"), Bytes::from_static(b"\x09")).is_err());
    }

    #[test]
    fn rejects_malformed_headers() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\x01short").is_err());
        assert!(decode(b"\x07x").is_err());
    }
}
