//! Stored values: the [`ttl`] header and the user's bytes, assembled and read without
//! work a raw RocksDB caller would not do.
//!
//! The layout is `backend_support::ttl`'s. RocksDB copies a value into its write batch
//! or memtable when it is written, so the header and value only need to sit side by
//! side for that call: up to [`STACK`] bytes they are put together on the stack (no
//! allocation, like a raw `put(&[u8])`); larger values go through a `Vec`.

use backend_api::Result;
use backend_support::ttl;

/// Largest stored value assembled on the stack.
const STACK: usize = 512;

/// Tag of a value without deadline (`ttl`'s layout: `00 value…`).
const NO_EXPIRY: u8 = 0;
/// Tag of a value with a deadline (`01 deadline_ms[8] value…`).
const EXPIRES: u8 = 1;

/// What a put stores: the user's value and its deadline, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored<'a> {
    pub(crate) value: &'a [u8],
    pub(crate) deadline: Option<u64>,
}

impl<'a> Stored<'a> {
    /// A value that never expires.
    pub(crate) fn plain(value: &'a [u8]) -> Self {
        Stored {
            value,
            deadline: None,
        }
    }

    /// Calls `write` with the stored bytes (same bytes as `ttl::encode`).
    pub(crate) fn with_bytes<T>(self, write: impl FnOnce(&[u8]) -> T) -> T {
        let header_len = if self.deadline.is_some() { 9 } else { 1 };
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
/// values that carry a deadline.
pub(crate) fn live_value(stored: &[u8]) -> Result<Option<&[u8]>> {
    let (deadline, value) = ttl::decode(stored)?;
    let expired = deadline.is_some_and(|d| ttl::now_ms() >= d);
    Ok((!expired).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_the_shared_header() {
        for deadline in [None, Some(0), Some(u64::MAX)] {
            for len in [0, 1, 100, 503, 504, 511, 512, 5000] {
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
    fn filters_expired_values() {
        assert_eq!(
            live_value(&ttl::encode(b"v", None)).unwrap(),
            Some(&b"v"[..])
        );
        assert_eq!(
            live_value(&ttl::encode(b"v", Some(u64::MAX))).unwrap(),
            Some(&b"v"[..])
        );
        assert_eq!(live_value(&ttl::encode(b"v", Some(1))).unwrap(), None);
        assert!(live_value(b"").is_err());
    }
}
