//! A value as an engine without native TTL stores it: the [`ttl`](crate::ttl) header
//! and the user's bytes, assembled and read without work a raw engine caller would not
//! do.
//!
//! Engines copy a value into their own buffer when it is written, so the header and the
//! value only need to sit side by side for that call: up to [`STACK`] bytes they are put
//! together on the stack (no allocation, like a raw `put(&[u8])`); larger values go
//! through a `Vec` (one more allocation and copy, small next to copying the value).

use std::time::Duration;

use backend_api::{PutOptions, Result};

use crate::ttl;

/// Largest stored value assembled on the stack.
pub const STACK: usize = 512;

/// Tag of a value without deadline (`ttl`'s layout: `00 value…`).
const NO_EXPIRY: u8 = 0;
/// Tag of a value with a deadline (`01 deadline_ms[8] value…`).
const EXPIRES: u8 = 1;

/// What a put stores: the user's value and its deadline (ms since the Unix epoch), if
/// any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored<'a> {
    /// The user's value.
    pub value: &'a [u8],
    /// When it stops being visible; `None`: never.
    pub deadline: Option<u64>,
}

impl<'a> Stored<'a> {
    /// A value that never expires.
    pub fn plain(value: &'a [u8]) -> Self {
        Stored {
            value,
            deadline: None,
        }
    }

    /// What a put of `value` with `options` stores, or `None` when its deadline has
    /// already passed (a TTL of zero, or one rounding to no whole millisecond): such a
    /// put is not visible at all and acts as a delete of any older value. Any TTL is
    /// accepted: `Duration::MAX` saturates to a deadline that never comes.
    pub fn for_put(value: &'a [u8], options: &PutOptions) -> Option<Self> {
        match options.ttl {
            None => Some(Self::plain(value)),
            Some(ttl) => Self::with_ttl(value, ttl),
        }
    }

    fn with_ttl(value: &'a [u8], ttl: Duration) -> Option<Self> {
        let now = ttl::now_ms();
        let deadline = now.saturating_add(ttl.as_millis().min(u128::from(u64::MAX)) as u64);
        (deadline > now).then_some(Stored {
            value,
            deadline: Some(deadline),
        })
    }

    /// Length of the header in front of the value.
    pub fn header_len(&self) -> usize {
        if self.deadline.is_some() { 9 } else { 1 }
    }

    /// Calls `write` with the stored bytes (the same bytes as [`ttl::encode`]).
    pub fn with_bytes<T>(self, write: impl FnOnce(&[u8]) -> T) -> T {
        let header_len = self.header_len();
        let len = header_len + self.value.len();
        if len > STACK {
            return write(&ttl::encode(self.value, self.deadline));
        }
        let mut buf = [0u8; STACK];
        match self.deadline {
            None => buf[0] = NO_EXPIRY,
            Some(d) => {
                buf[0] = EXPIRES;
                buf[1..9].copy_from_slice(&d.to_be_bytes());
            }
        }
        buf[header_len..len].copy_from_slice(self.value);
        write(&buf[..len])
    }
}

/// The user's value inside `stored` unless it has expired. The clock is read only for
/// values that carry a deadline. Malformed bytes are `Error::Corruption`.
pub fn live_value(stored: &[u8]) -> Result<Option<&[u8]>> {
    let (deadline, value) = ttl::decode(stored)?;
    let expired = deadline.is_some_and(|d| ttl::now_ms() >= d);
    Ok((!expired).then_some(value))
}

/// The header length of `stored` when its value is live, `None` when it has expired
/// (see [`live_value`]).
pub fn live_header_len(stored: &[u8]) -> Result<Option<usize>> {
    Ok(live_header(stored)?.map(|(header_len, _)| header_len))
}

/// The header length and the deadline (ms since the epoch, `None`: no TTL) of `stored`
/// when its value is live, `None` when it has expired. The clock is read only for
/// values that carry a deadline.
pub fn live_header(stored: &[u8]) -> Result<Option<(usize, Option<u64>)>> {
    let (deadline, value) = ttl::decode(stored)?;
    let expired = deadline.is_some_and(|d| ttl::now_ms() >= d);
    Ok((!expired).then_some((stored.len() - value.len(), deadline)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_the_shared_header() {
        for deadline in [None, Some(0), Some(u64::MAX)] {
            for len in [0, 1, 12, 13, 22, 100, 503, 504, 511, 512, 5000] {
                let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let bytes = Stored {
                    value: &value,
                    deadline,
                }
                .with_bytes(<[u8]>::to_vec);
                assert_eq!(bytes, ttl::encode(&value, deadline));
            }
        }
    }

    #[test]
    fn puts_map_their_ttl_to_a_deadline_without_overflow() {
        let plain = Stored::for_put(b"v", &PutOptions::default()).unwrap();
        assert_eq!(plain.deadline, None);
        assert_eq!(
            Stored::for_put(b"v", &PutOptions::with_ttl(Duration::ZERO)),
            None
        );
        assert_eq!(
            Stored::for_put(b"v", &PutOptions::with_ttl(Duration::from_nanos(1))),
            None,
            "a deadline of now is already past"
        );
        let max = Stored::for_put(b"v", &PutOptions::with_ttl(Duration::MAX)).unwrap();
        assert_eq!(max.deadline, Some(u64::MAX));
        let far = std::time::SystemTime::now() + Duration::from_secs(1 << 40);
        let far = Stored::for_put(b"v", &PutOptions::expires_at(far)).unwrap();
        assert!(far.deadline.unwrap() > ttl::now_ms());
    }

    #[test]
    fn reads_back_only_live_values() {
        let live = ttl::encode(b"v", Some(u64::MAX));
        assert_eq!(live_value(&live).unwrap(), Some(&b"v"[..]));
        assert_eq!(live_header_len(&live).unwrap(), Some(9));
        assert_eq!(live_header_len(&ttl::encode(b"v", None)).unwrap(), Some(1));
        assert_eq!(live_value(&ttl::encode(b"v", Some(1))).unwrap(), None);
        assert!(live_value(b"").is_err());
    }
}
