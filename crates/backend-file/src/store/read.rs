//! Point reads: keydir lookup, one positioned read, every record checked (header,
//! checksum, kind, sequence number, key) before a byte of it is returned.

use std::io::ErrorKind;
use std::sync::Arc;

use backend_api::{Error, Partition, Result};
use backend_support::ttl;
use bytes::Bytes;

use super::{Store, live_in};
use crate::error::corrupt;
use crate::files::Handle;
use crate::format::{Kind, RECORD_HEADER_LEN, RecordHeader, record_crc_ok};
use crate::keydir::{Entry, State};

impl Store {
    /// The value of `key` in `p`, if live.
    pub fn get(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.check_open()?;
        let found = {
            let st = self.state.read();
            match Store::part(&st, p)?.keys.get(key) {
                Some(e) if e.expiry == 0 || !e.expired(ttl::now_ms()) => {
                    Some((*e, file_of(&st, e)))
                }
                _ => None,
            }
        };
        match found {
            None => Ok(None),
            Some((e, file)) => read_value(&*file?, &e, key).map(Some),
        }
    }

    /// True when `key` has a live (unexpired) entry in `p`.
    pub fn exists(&self, p: &Partition, key: &[u8]) -> Result<bool> {
        let st = self.state.read();
        Ok(live_in(Store::part(&st, p)?, key))
    }
}

/// The open data file `e` points into; a missing one is corruption.
pub(crate) fn file_of(st: &State, e: &Entry) -> Result<Arc<Handle>> {
    st.files.get(&e.file_id).cloned().ok_or_else(|| {
        Error::corruption(format!(
            "data file {} is missing",
            crate::files::data_name(e.file_id)
        ))
    })
}

/// Reads the record `entry` of `key` into `rec` and checks it.
pub(crate) fn read_record(
    file: &Handle,
    entry: &Entry,
    key: &[u8],
    rec: &mut Vec<u8>,
) -> Result<RecordHeader> {
    rec.resize(entry.len as usize, 0);
    if let Err(err) = file.raw().read_exact_at(rec, entry.offset) {
        return Err(if err.kind() == ErrorKind::UnexpectedEof {
            corrupt(file.path(), entry.offset, "the file ends inside the record")
        } else {
            Error::io(file.path(), err)
        });
    }
    check_record(rec, entry, key, file)
}

/// One positioned read of a record, checked, returning its value.
pub(crate) fn read_value(file: &Handle, e: &Entry, key: &[u8]) -> Result<Bytes> {
    let mut rec = Vec::new();
    read_record(file, e, key, &mut rec)?;
    Ok(Bytes::from(rec).slice(RECORD_HEADER_LEN + key.len()..))
}

/// Checks a record read for `entry` of `key`: header and full checksum, kind, sequence
/// number, key. Never lets wrong bytes through.
fn check_record(rec: &[u8], entry: &Entry, key: &[u8], file: &Handle) -> Result<RecordHeader> {
    let bad = |why: &str| corrupt(file.path(), entry.offset, why);
    let h = RecordHeader::decode(rec).map_err(|e| bad(&format!("{e:?}")))?;
    if !record_crc_ok(rec) {
        return Err(bad("record checksum mismatch"));
    }
    if h.kind != Kind::Put || h.seq != entry.seq || h.total_len() != rec.len() as u64 {
        return Err(bad("record does not match the keydir"));
    }
    if &rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.key_len as usize] != key {
        return Err(bad("record holds another key"));
    }
    Ok(h)
}
