//! The binary-safe change events the write scripts publish (see `scripts`).

use backend_api::{Bytes, Error, Result, WatchEvent};

/// What one pub/sub message says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A put or delete.
    Event(WatchEvent),
    /// The partition was dropped: the watch ends.
    Dropped,
}

/// Decodes one message payload. Malformed payloads are `Error::Corruption`.
pub(crate) fn decode(payload: Bytes) -> Result<Decoded> {
    match payload.first() {
        Some(b'P') => {
            let colon = payload
                .iter()
                .position(|&b| b == b':')
                .ok_or_else(|| bad("put event without a length"))?;
            let len: usize = std::str::from_utf8(&payload[1..colon])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("put event with a bad length"))?;
            let key_start = colon + 1;
            let key_end = key_start
                .checked_add(len)
                .filter(|&end| end <= payload.len())
                .ok_or_else(|| bad("put event shorter than its key length"))?;
            Ok(Decoded::Event(WatchEvent::Put {
                key: payload.slice(key_start..key_end),
                value: payload.slice(key_end..),
            }))
        }
        Some(b'D') => Ok(Decoded::Event(WatchEvent::Delete {
            key: payload.slice(1..),
        })),
        Some(b'X') => Ok(Decoded::Dropped),
        _ => Err(bad("unknown event tag")),
    }
}

fn bad(what: &str) -> Error {
    Error::corruption(format!("watch channel: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors the scripts' `'P' .. #key .. ':' .. key .. value`.
    fn put(key: &[u8], value: &[u8]) -> Bytes {
        let mut out = format!("P{}:", key.len()).into_bytes();
        out.extend_from_slice(key);
        out.extend_from_slice(value);
        out.into()
    }

    #[test]
    fn round_trips_binary_keys_and_values() {
        for (key, value) in [
            (&b"k"[..], &b"v"[..]),
            (b"\x00:\xff", b":\x00"),
            (b"a", b""),
        ] {
            assert_eq!(
                decode(put(key, value)).unwrap(),
                Decoded::Event(WatchEvent::Put {
                    key: Bytes::copy_from_slice(key),
                    value: Bytes::copy_from_slice(value)
                })
            );
        }
        assert_eq!(
            decode(Bytes::from_static(b"D\x00\xff")).unwrap(),
            Decoded::Event(WatchEvent::Delete {
                key: Bytes::from_static(b"\x00\xff")
            })
        );
        assert_eq!(decode(Bytes::from_static(b"X")).unwrap(), Decoded::Dropped);
    }

    #[test]
    fn rejects_malformed_payloads() {
        for bad in [
            &b""[..],
            b"Z",
            b"P",
            b"P5:ab",
            b"Px:ab",
            b"P99999999999999999999999:a",
        ] {
            assert!(decode(Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
    }
}
