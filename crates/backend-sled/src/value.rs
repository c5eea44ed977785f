//! Stored values: the [`ttl`] header and the user's bytes, built and read without
//! copies the engine does not already make.
//!
//! The layout is `backend_support::ttl`'s; these helpers only change how the bytes are
//! moved: a stored value is built straight into the allocation sled keeps (one
//! allocation and one copy, as a raw `insert(&[u8])` makes), and a value read back is
//! handed out as a [`Bytes`] that shares sled's buffer instead of copying it.

use backend_api::{Bytes, Result};
use backend_support::ttl;
use bytes::Buf;

/// Bytes sled keeps inline (no allocation) in an `IVec`.
const INLINE: usize = 22;

/// Largest stored value assembled on the stack.
const STACK: usize = 512;

/// Tag of a value without deadline (`ttl`'s layout: `00 value…`).
const NO_EXPIRY: u8 = 0;
/// Tag of a value with a deadline (`01 deadline_ms[8] value…`).
const EXPIRES: u8 = 1;

/// The stored form of `value` with `deadline`, as the `IVec` sled will keep.
///
/// Same bytes as `ttl::encode(value, deadline)`. Up to [`STACK`] bytes they are
/// assembled on the stack and copied once into the `IVec`'s allocation, so a put makes
/// one allocation like a raw `insert(&[u8])`; larger values go through a `Vec` (one more
/// allocation and copy, small next to copying the value itself). sled's own `Arc`,
/// which an `IVec` could adopt without a copy, is private to sled.
pub(crate) fn stored(value: &[u8], deadline: Option<u64>) -> sled::IVec {
    let header_len = if deadline.is_some() { 9 } else { 1 };
    let len = header_len + value.len();
    if len > STACK {
        return sled::IVec::from(ttl::encode(value, deadline));
    }
    let mut buf = [0u8; STACK];
    match deadline {
        None => buf[0] = NO_EXPIRY,
        Some(d) => {
            buf[0] = EXPIRES;
            buf[1..9].copy_from_slice(&d.to_be_bytes());
        }
    }
    buf[header_len..len].copy_from_slice(value);
    sled::IVec::from(&buf[..len])
}

/// The stored form of a plain put (no TTL).
pub(crate) fn plain(value: &[u8]) -> sled::IVec {
    stored(value, None)
}

/// Decodes the header of `stored`: the header's length when the value is live, `None`
/// when it has expired. The clock is read only for values that carry a deadline.
pub(crate) fn live_header(stored: &[u8]) -> Result<Option<usize>> {
    let (deadline, value) = ttl::decode(stored)?;
    let expired = deadline.is_some_and(|d| ttl::now_ms() >= d);
    Ok((!expired).then_some(stored.len() - value.len()))
}

/// The user's value inside `stored` if it is live (see [`live_header`]).
pub(crate) fn live_value(stored: &[u8]) -> Result<Option<&[u8]>> {
    Ok(live_header(stored)?.map(|header| &stored[header..]))
}

/// `stored` without its `header_len`-byte header, sharing sled's buffer: no copy.
pub(crate) fn user_bytes(stored: sled::IVec, header_len: usize) -> Bytes {
    let mut bytes = Bytes::from_owner(stored);
    bytes.advance(header_len);
    bytes
}

/// A key as [`Bytes`]. Keys up to 22 bytes live inline in the `IVec` (no allocation to
/// share), so a copy is the cheapest; longer ones share sled's buffer.
pub(crate) fn key_bytes(key: sled::IVec) -> Bytes {
    if key.len() <= INLINE {
        Bytes::copy_from_slice(&key)
    } else {
        Bytes::from_owner(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_the_shared_header() {
        for deadline in [None, Some(0), Some(u64::MAX)] {
            for len in [0, 1, 12, 13, 21, 22, 23, 100, 503, 504, 511, 512, 5000] {
                let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
                assert_eq!(
                    &*stored(&value, deadline),
                    &ttl::encode(&value, deadline)[..]
                );
            }
        }
    }

    #[test]
    fn reads_back_the_live_value_only() {
        let live = stored(b"hello", None);
        let header = live_header(&live).unwrap().unwrap();
        assert_eq!(&user_bytes(live.clone(), header)[..], b"hello");
        assert_eq!(live_value(&live).unwrap(), Some(&b"hello"[..]));
        let far = stored(&[7; 300], Some(u64::MAX));
        assert_eq!(live_value(&far).unwrap(), Some(&[7; 300][..]));
        assert_eq!(live_header(&stored(b"x", Some(1))).unwrap(), None);
        assert!(live_header(b"\x09").is_err());
        assert_eq!(
            &key_bytes(sled::IVec::from(&[1u8; 40][..]))[..],
            &[1u8; 40][..]
        );
    }
}
