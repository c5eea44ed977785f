//! What the objects partition holds for one object: its index entries, then its value.
//!
//! ```text
//! 0x01 (format version) | u32 BE n | n × (u32 BE len | entry) | value
//! ```
//!
//! An `entry` is `escaped(field) | tag | term` (see [`term`](super::term)), the index
//! key of the entry without the object key. Keeping the entries beside the value lets a
//! write compute exactly which index keys to add and remove, inside the same
//! conditional batch that checks the stored record is still the one it read.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

use super::term::corrupt;
use backend_api::Result;

const VERSION: u8 = 1;

/// A decoded object record.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The encoded entries (`escaped(field) | tag | term`), sorted and unique.
    pub entries: BTreeSet<Bytes>,
    /// The user's value.
    pub value: Bytes,
}

impl Record {
    /// The stored form.
    pub fn encode(entries: &BTreeSet<Bytes>, value: &[u8]) -> Bytes {
        let len = 5 + entries.iter().map(|e| 4 + e.len()).sum::<usize>() + value.len();
        let mut out = BytesMut::with_capacity(len);
        out.put_u8(VERSION);
        out.put_u32(entries.len() as u32);
        for entry in entries {
            out.put_u32(entry.len() as u32);
            out.put_slice(entry);
        }
        out.put_slice(value);
        out.freeze()
    }

    /// Parses a stored record, checking every length against what remains.
    pub fn decode(stored: &Bytes) -> Result<Record> {
        let bad = || corrupt("an object record is truncated or of an unknown version");
        let (&version, mut rest) = stored.split_first().ok_or_else(bad)?;
        if version != VERSION {
            return Err(bad());
        }
        let count = take_u32(&mut rest).ok_or_else(bad)?;
        let mut entries = BTreeSet::new();
        for _ in 0..count {
            let len = take_u32(&mut rest).ok_or_else(bad)? as usize;
            if len > rest.len() {
                return Err(bad());
            }
            let (entry, tail) = rest.split_at(len);
            entries.insert(stored.slice_ref(entry));
            rest = tail;
        }
        Ok(Record {
            entries,
            value: stored.slice_ref(rest),
        })
    }
}

fn take_u32(rest: &mut &[u8]) -> Option<u32> {
    let (head, tail) = rest.split_first_chunk::<4>()?;
    *rest = tail;
    Some(u32::from_be_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use backend_api::Error;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let entries: BTreeSet<Bytes> = [Bytes::from_static(b"a\0\0\x01x"), Bytes::new()].into();
        let stored = Record::encode(&entries, b"value");
        let record = Record::decode(&stored).unwrap();
        assert_eq!(record.entries, entries);
        assert_eq!(&record.value[..], b"value");
        for cut in 0..10 {
            let short = stored.slice(..cut);
            assert!(
                matches!(Record::decode(&short), Err(Error::Corruption { .. })),
                "{cut}"
            );
        }
    }
}
