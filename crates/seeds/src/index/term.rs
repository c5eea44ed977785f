//! The order-preserving encoding of index fields and terms.
//!
//! An index entry is stored as one key of the index partition:
//!
//! ```text
//! escaped(field) | tag | term | object key
//! ```
//!
//! * `escaped(s)`: every `0x00` byte of `s` becomes `0x00 0xFF`, and `0x00 0x00` ends
//!   it. Byte-wise order of escaped strings is the order of the strings, and it is
//!   decided before the terminator's end, so whatever follows (the term, the object
//!   key) never changes how two different fields or terms compare.
//! * `tag`: `0x01` for an integer term, `0x02` for a binary term (integers sort first).
//! * integer term: the `i64` as 8 bytes big-endian with its sign bit flipped, so
//!   `i64::MIN < -1 < 0 < 1 < i64::MAX` in byte order.
//! * binary term: `escaped(bytes)`.
//! * object key: the raw key, to the end.
//!
//! So a scan of the index partition yields entries ordered by field, then term, then
//! object key, which is the order of query results.

use backend_api::{Error, Result};
use bytes::{BufMut, Bytes, BytesMut};

const TAG_INT: u8 = 0x01;
const TAG_BIN: u8 = 0x02;

/// One term of a secondary index: Riak's `_int` and `_bin` index values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    /// A signed integer; sorts numerically (negative before positive).
    Int(i64),
    /// Any bytes; sorts byte-wise (unsigned), shorter first on a shared prefix.
    Bin(Bytes),
}

impl Term {
    /// A binary term from anything byte-like.
    pub fn bin(bytes: impl AsRef<[u8]>) -> Self {
        Term::Bin(Bytes::copy_from_slice(bytes.as_ref()))
    }

    /// Appends `tag | encoded term` to `out`.
    pub(crate) fn encode_into(&self, out: &mut BytesMut) {
        match self {
            Term::Int(i) => {
                out.put_u8(TAG_INT);
                out.put_u64((*i as u64) ^ (1 << 63));
            }
            Term::Bin(b) => {
                out.put_u8(TAG_BIN);
                escape_into(b, out);
            }
        }
    }

    /// Decodes a term from the front of `bytes`; returns it and the rest.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(Term, &[u8])> {
        match bytes.split_first() {
            Some((&TAG_INT, rest)) if rest.len() >= 8 => {
                let (num, rest) = rest.split_at(8);
                let mut be = [0u8; 8];
                be.copy_from_slice(num);
                Ok((Term::Int((u64::from_be_bytes(be) ^ (1 << 63)) as i64), rest))
            }
            Some((&TAG_BIN, rest)) => {
                let (b, rest) = unescape(rest)?;
                Ok((Term::Bin(b), rest))
            }
            _ => Err(corrupt("an index term with an unknown tag or truncated")),
        }
    }
}

impl From<i64> for Term {
    fn from(i: i64) -> Self {
        Term::Int(i)
    }
}

impl From<&str> for Term {
    fn from(s: &str) -> Self {
        Term::bin(s)
    }
}

impl From<String> for Term {
    fn from(s: String) -> Self {
        Term::Bin(Bytes::from(s))
    }
}

impl From<&[u8]> for Term {
    fn from(b: &[u8]) -> Self {
        Term::bin(b)
    }
}

impl From<Bytes> for Term {
    fn from(b: Bytes) -> Self {
        Term::Bin(b)
    }
}

/// Appends `escaped(s)`: `0x00` as `0x00 0xFF`, then the terminator `0x00 0x00`.
pub(crate) fn escape_into(s: &[u8], out: &mut BytesMut) {
    for &b in s {
        out.put_u8(b);
        if b == 0 {
            out.put_u8(0xFF);
        }
    }
    out.put_slice(&[0, 0]);
}

/// Reads one escaped string from the front of `bytes`; returns it and the rest.
pub(crate) fn unescape(bytes: &[u8]) -> Result<(Bytes, &[u8])> {
    let mut out = BytesMut::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (0, Some(0)) => return Ok((out.freeze(), &bytes[i + 2..])),
            (0, Some(0xFF)) => {
                out.put_u8(0);
                i += 2;
            }
            (0, _) => return Err(corrupt("a bad escape in an index field or term")),
            (b, _) => {
                out.put_u8(b);
                i += 1;
            }
        }
    }
    Err(corrupt("an index field or term without its terminator"))
}

pub(crate) fn corrupt(what: &str) -> Error {
    Error::Corruption {
        detail: format!("secondary index: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(t: &Term) -> Bytes {
        let mut out = BytesMut::new();
        t.encode_into(&mut out);
        out.freeze()
    }

    #[test]
    fn integers_sort_numerically_and_round_trip() {
        let ints = [i64::MIN, -300, -1, 0, 1, 255, 256, i64::MAX];
        for pair in ints.windows(2) {
            assert!(
                enc(&Term::Int(pair[0])) < enc(&Term::Int(pair[1])),
                "{pair:?}"
            );
        }
        for i in ints {
            let e = enc(&Term::Int(i));
            assert_eq!(Term::decode(&e).unwrap(), (Term::Int(i), &[][..]));
        }
    }

    #[test]
    fn binary_terms_sort_bytewise_whatever_follows() {
        let terms: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"\0\x01", b"a", b"a\0", b"a\xff"];
        for pair in terms.windows(2) {
            let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
            Term::bin(pair[0]).encode_into(&mut a);
            Term::bin(pair[1]).encode_into(&mut b);
            // The worst object keys to follow: the greatest after the smaller term.
            a.put_slice(&[0xFF; 4]);
            b.put_u8(0x00);
            assert!(a < b, "{pair:?}");
        }
        for t in terms {
            let mut e = BytesMut::new();
            Term::bin(t).encode_into(&mut e);
            e.put_slice(b"key");
            assert_eq!(Term::decode(&e).unwrap(), (Term::bin(t), &b"key"[..]));
        }
    }

    #[test]
    fn malformed_terms_are_corruption() {
        for bad in [&b""[..], b"\x03", b"\x01\0\0", b"\x02ab", b"\x02a\0\x05"] {
            assert!(
                matches!(Term::decode(bad), Err(Error::Corruption { .. })),
                "{bad:?}"
            );
        }
    }
}
