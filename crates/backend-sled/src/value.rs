//! Stored values in sled's own buffers: [`Stored`] (the shared TTL header and the
//! user's bytes) built straight into the `IVec` sled keeps, and values read back handed
//! out as [`Bytes`] that share sled's buffer instead of copying it.

use backend_api::Bytes;
use backend_support::Stored;
use bytes::Buf;

/// Bytes sled keeps inline (no allocation) in an `IVec`.
const INLINE: usize = 22;

/// The `IVec` sled will keep for `stored`: assembled on the stack up to
/// 512 bytes and copied once into the `IVec`'s
/// allocation, so a put makes one allocation like a raw `insert(&[u8])`. sled's own
/// `Arc`, which an `IVec` could adopt without a copy, is private to sled.
pub(crate) fn ivec(stored: Stored<'_>) -> sled::IVec {
    stored.with_bytes(|bytes| sled::IVec::from(bytes))
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
    use backend_support::{live_header_len, ttl};

    #[test]
    fn same_bytes_as_the_shared_header_and_read_back_without_copy() {
        for deadline in [None, Some(u64::MAX)] {
            for len in [0, 12, 13, 22, 23, 511, 512, 5000] {
                let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let stored = ivec(Stored {
                    value: &value,
                    deadline,
                });
                assert_eq!(&*stored, &ttl::encode(&value, deadline)[..]);
                let header = live_header_len(&stored).unwrap().unwrap();
                assert_eq!(&user_bytes(stored, header)[..], &value[..]);
            }
        }
        assert_eq!(
            &key_bytes(sled::IVec::from(&[1u8; 40][..]))[..],
            &[1u8; 40][..]
        );
    }
}
