//! The binary-safe change messages the write scripts publish (see `scripts`).
//!
//! One message carries one or more records, back to back, in commit order:
//!
//! | record | meaning |
//! |---|---|
//! | `P<key length>:<value length>:<key><value>` | a put (lengths in decimal) |
//! | `D<key length>:<key>` | a delete |
//! | `R<min length>:<max length>:<min><max>` | a range delete that removed a live key; `min` is `-` (open) or `[` + start, `max` is `+` (open) or `(` + end |
//! | `X` | the partition was dropped (last record of its message) |
//!
//! A single put, delete or CAS publishes a one-record message; a batch publishes one
//! message per partition it touches, holding every operation of that partition.

use backend_api::{Bytes, Error, KeyRange, Result, WatchEvent};

/// What one record says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A put or delete.
    Event(WatchEvent),
    /// The partition was dropped: the watch ends.
    Dropped,
}

/// The records of one message payload, in order. A malformed record yields
/// `Error::Corruption` and ends the iteration.
pub(crate) fn decode(payload: Bytes) -> Records {
    Records { payload, pos: 0 }
}

/// Iterator over the records of one message (see [`decode`]).
pub(crate) struct Records {
    payload: Bytes,
    pos: usize,
}

impl Iterator for Records {
    type Item = Result<Decoded>;

    fn next(&mut self) -> Option<Result<Decoded>> {
        if self.pos >= self.payload.len() {
            return None;
        }
        let item = self.record();
        if item.is_err() {
            self.pos = self.payload.len();
        }
        Some(item)
    }
}

impl Records {
    fn record(&mut self) -> Result<Decoded> {
        let tag = self.payload[self.pos];
        self.pos += 1;
        match tag {
            b'P' => {
                let key_len = self.length()?;
                let value_len = self.length()?;
                let key = self.take(key_len)?;
                let value = self.take(value_len)?;
                Ok(Decoded::Event(WatchEvent::Put { key, value }))
            }
            b'D' => {
                let key_len = self.length()?;
                let key = self.take(key_len)?;
                Ok(Decoded::Event(WatchEvent::Delete { key }))
            }
            b'R' => {
                let min_len = self.length()?;
                let max_len = self.length()?;
                let min = self.take(min_len)?;
                let max = self.take(max_len)?;
                let mut range = KeyRange::all();
                range.start = bound(&min, b'-', b'[')?;
                range.end = bound(&max, b'+', b'(')?;
                Ok(Decoded::Event(WatchEvent::RangeDeleted { range }))
            }
            b'X' => Ok(Decoded::Dropped),
            _ => Err(bad("unknown record tag")),
        }
    }

    /// A decimal length ended by `:` (at most 19 digits, so it cannot overflow).
    fn length(&mut self) -> Result<usize> {
        let rest = &self.payload[self.pos..];
        let colon = rest
            .iter()
            .take(20)
            .position(|&b| b == b':')
            .ok_or_else(|| bad("record without a length"))?;
        let digits = &rest[..colon];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad("record with a bad length"));
        }
        let len = digits
            .iter()
            .try_fold(0usize, |n, &d| {
                n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
            })
            .ok_or_else(|| bad("record with a bad length"))?;
        self.pos += colon + 1;
        Ok(len)
    }

    /// The next `len` bytes, without copying.
    fn take(&mut self, len: usize) -> Result<Bytes> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.payload.len())
            .ok_or_else(|| bad("record shorter than its length"))?;
        let out = self.payload.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }
}

/// A range bound from its lex form: `open` alone is `None`, `marker` + bytes is the key.
fn bound(lex: &Bytes, open: u8, marker: u8) -> Result<Option<Bytes>> {
    match lex.first() {
        Some(&b) if b == open && lex.len() == 1 => Ok(None),
        Some(&b) if b == marker => Ok(Some(lex.slice(1..))),
        _ => Err(bad("range record with a bad bound")),
    }
}

fn bad(what: &str) -> Error {
    Error::corruption(format!("watch channel: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors the scripts' put record.
    fn put(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = format!("P{}:{}:", key.len(), value.len()).into_bytes();
        out.extend_from_slice(key);
        out.extend_from_slice(value);
        out
    }

    /// Mirrors the scripts' delete record.
    fn delete(key: &[u8]) -> Vec<u8> {
        let mut out = format!("D{}:", key.len()).into_bytes();
        out.extend_from_slice(key);
        out
    }

    fn all(payload: Vec<u8>) -> Result<Vec<Decoded>> {
        decode(Bytes::from(payload)).collect()
    }

    fn put_event(key: &[u8], value: &[u8]) -> Decoded {
        Decoded::Event(WatchEvent::Put {
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
        })
    }

    #[test]
    fn round_trips_binary_keys_and_values() {
        for (key, value) in [
            (&b"k"[..], &b"v"[..]),
            (b"\x00:\xff", b":\x00"),
            (b"a", b""),
            (b"P1:1:", b"D1:"),
        ] {
            assert_eq!(all(put(key, value)).unwrap(), vec![put_event(key, value)]);
        }
        assert_eq!(
            all(delete(b"\x00\xff")).unwrap(),
            vec![Decoded::Event(WatchEvent::Delete {
                key: Bytes::from_static(b"\x00\xff")
            })]
        );
        assert_eq!(all(b"X".to_vec()).unwrap(), vec![Decoded::Dropped]);
    }

    #[test]
    fn a_batch_message_yields_its_records_in_order() {
        let mut message = put(b"a", b"1");
        message.extend(delete(b"a"));
        message.extend(put(b"b:", b"\x00"));
        message.extend(put(b"a", b""));
        assert_eq!(
            all(message).unwrap(),
            vec![
                put_event(b"a", b"1"),
                Decoded::Event(WatchEvent::Delete {
                    key: Bytes::from_static(b"a")
                }),
                put_event(b"b:", b"\x00"),
                put_event(b"a", b""),
            ]
        );
    }

    /// Mirrors the write script's range record.
    fn range(min: &[u8], max: &[u8]) -> Vec<u8> {
        let mut out = format!("R{}:{}:", min.len(), max.len()).into_bytes();
        out.extend_from_slice(min);
        out.extend_from_slice(max);
        out
    }

    #[test]
    fn range_records_give_the_range_as_written() {
        for (min, max, expected) in [
            (&b"-"[..], &b"+"[..], KeyRange::all()),
            (
                b"[a\x00",
                b"(b",
                KeyRange::between(&b"a\x00"[..], &b"b"[..]),
            ),
            (b"[-", b"+", KeyRange::from(&b"-"[..])),
            (b"-", b"(+", KeyRange::until(&b"+"[..])),
        ] {
            assert_eq!(
                all(range(min, max)).unwrap(),
                vec![Decoded::Event(WatchEvent::RangeDeleted { range: expected })]
            );
        }
        for (min, max) in [
            (&b""[..], &b"+"[..]),
            (b"-", b"[b"),
            (b"(a", b"+"),
            (b"--", b"+"),
        ] {
            assert!(all(range(min, max)).is_err(), "{min:?} {max:?}");
        }
    }

    #[test]
    fn rejects_malformed_payloads() {
        for bad in [
            &b"Z"[..],
            b"P",
            b"P1:",
            b"P5:0:ab",
            b"P1:5:ab",
            b"Px:0:ab",
            b"P:0:a",
            b"P99999999999999999999999:0:a",
            b"P18446744073709551615:1:a",
            b"D",
            b"D3:ab",
            b"R1:1:-",
            b"R1:",
        ] {
            assert!(all(bad.to_vec()).is_err(), "{bad:?}");
        }
        // A good record followed by a bad one: the good one, then the error, then the end.
        let mut message = put(b"a", b"1");
        message.extend_from_slice(b"Q");
        let mut records = decode(Bytes::from(message));
        assert!(records.next().unwrap().is_ok());
        assert!(records.next().unwrap().is_err());
        assert!(records.next().is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: every decode of random bytes ends, without panic.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let payload: Vec<u8> = (0..len)
                .map(|i| b"PDX:0123456789ab"[((state >> (i * 2)) % 16) as usize])
                .collect();
            let count = decode(Bytes::from(payload.clone())).count();
            assert!(count <= payload.len(), "{payload:?}");
        }
    }
}
