//! Index entries and Riak's index specs.

use std::collections::BTreeSet;

use backend_api::Result;
use bytes::{Bytes, BytesMut};

use super::term::{Term, corrupt, escape_into, unescape};

/// One index entry of an object: `field` holds `term`. Riak names fields `*_int` and
/// `*_bin`; here the term's type is in [`Term`], so any field name works.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexEntry {
    /// The index name.
    pub field: String,
    /// The value indexed.
    pub term: Term,
}

impl IndexEntry {
    /// `field` holds `term`.
    pub fn new(field: impl Into<String>, term: impl Into<Term>) -> Self {
        IndexEntry {
            field: field.into(),
            term: term.into(),
        }
    }

    /// `escaped(field) | tag | term`: the index key without the object key.
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = BytesMut::from(&field_prefix(&self.field)[..]);
        self.term.encode_into(&mut out);
        out.freeze()
    }

    /// The inverse of [`encode`](Self::encode) on the front of `bytes`; returns the
    /// entry and what follows it (the object key in an index key).
    pub(crate) fn decode(bytes: &[u8]) -> Result<(IndexEntry, &[u8])> {
        let (field, rest) = unescape(bytes)?;
        let field = String::from_utf8(field.to_vec())
            .map_err(|_| corrupt("an index field that is not UTF-8"))?;
        let (term, rest) = Term::decode(rest)?;
        Ok((IndexEntry { field, term }, rest))
    }
}

/// Riak's index spec, given with a write: add or remove one entry of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexSpec {
    /// The object gains this entry.
    Add(IndexEntry),
    /// The object loses this entry (no-op if it lacks it).
    Remove(IndexEntry),
}

/// The encoded entry set after applying `specs` in order to `current`.
pub(crate) fn apply_specs(current: &BTreeSet<Bytes>, specs: &[IndexSpec]) -> BTreeSet<Bytes> {
    let mut next = current.clone();
    for spec in specs {
        match spec {
            IndexSpec::Add(e) => next.insert(e.encode()),
            IndexSpec::Remove(e) => next.remove(&e.encode()),
        };
    }
    next
}

/// The encoded set of `entries`.
pub(crate) fn encode_set(entries: &[IndexEntry]) -> BTreeSet<Bytes> {
    entries.iter().map(IndexEntry::encode).collect()
}

/// `escaped(field)`: the prefix shared by every entry of the field.
pub(crate) fn field_prefix(field: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(field.len() + 2);
    escape_into(field.as_bytes(), &mut out);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_specs_apply_in_order() {
        let e = IndexEntry::new("na\0me_bin", "x\0y");
        let mut key = BytesMut::from(&e.encode()[..]);
        key.extend_from_slice(b"obj");
        assert_eq!(IndexEntry::decode(&key).unwrap(), (e.clone(), &b"obj"[..]));

        let a = IndexEntry::new("age_int", 7i64);
        let specs = [
            IndexSpec::Add(a.clone()),
            IndexSpec::Remove(e.clone()),
            IndexSpec::Add(a.clone()),
        ];
        let out = apply_specs(&encode_set(std::slice::from_ref(&e)), &specs);
        assert_eq!(out, encode_set(&[a]));
    }
}
