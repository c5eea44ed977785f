//! Point reads: keydir lookup, one positioned read, every record checked (header,
//! checksum, kind, sequence number, key) before a byte of it is returned.

use std::io::ErrorKind;
use std::sync::Arc;

use backend_api::{Error, Partition, Result};
use backend_support::ttl;
use bytes::Bytes;

use super::{Store, live_in};
use crate::error::{corrupt, task_failed};
use crate::files::Handle;
use crate::format::{Kind, RECORD_HEADER_LEN, RecordHeader, record_crc_ok};
use crate::keydir::{Entry, State};

/// What a point lookup found without touching the disk.
pub(crate) enum Lookup {
    /// No live entry.
    Absent,
    /// The value, from the value cache.
    Cached(Bytes),
    /// The record to read.
    Disk(Entry, Arc<Handle>),
}

impl Store {
    /// Keydir, then value cache: what `key` in `p` holds, short of a disk read.
    pub fn lookup(&self, p: &Partition, key: &[u8]) -> Result<Lookup> {
        let st = self.state.read();
        let Some(e) = Store::part(&st, p)?.keys().get(key) else {
            return Ok(Lookup::Absent);
        };
        if e.expiry != 0 && e.expired(ttl::now_ms()) {
            return Ok(Lookup::Absent);
        }
        if let Some(v) = self.cache.get(&e) {
            return Ok(Lookup::Cached(v));
        }
        Ok(Lookup::Disk(e, file_of(&st, &e)?))
    }

    /// The value of `key` in `p`, if live; reads on the calling thread.
    pub fn get(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.check_open()?;
        match self.lookup(p, key)? {
            Lookup::Absent => Ok(None),
            Lookup::Cached(v) => Ok(Some(v)),
            Lookup::Disk(e, file) => {
                let v = read_value(&file, &e, key)?;
                self.cache.insert(&e, v.clone());
                Ok(Some(v))
            }
        }
    }

    /// The value of `key` in `p`, if live, without blocking an async worker on the disk:
    /// a value in the cache or in the OS page cache is read here; one that needs the
    /// device is read on tokio's blocking pool (inline outside a tokio runtime).
    pub async fn get_async(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.check_open()?;
        let (e, file) = match self.lookup(p, key)? {
            Lookup::Absent => return Ok(None),
            Lookup::Cached(v) => return Ok(Some(v)),
            Lookup::Disk(e, file) => (e, file),
        };
        let mut rec = Vec::new();
        let v = if read_record_nowait(&file, &e, key, &mut rec)? {
            Bytes::from(rec).slice(RECORD_HEADER_LEN + key.len()..)
        } else if tokio::runtime::Handle::try_current().is_ok() {
            let key = key.to_vec();
            tokio::task::spawn_blocking(move || read_value(&file, &e, &key))
                .await
                .map_err(task_failed)??
        } else {
            read_value(&file, &e, key)?
        };
        self.cache.insert(&e, v.clone());
        Ok(Some(v))
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
    let read = file.raw().read_exact_at(rec, entry.offset);
    read.map_err(|err| read_error(file, entry, err))?;
    check_record(rec, entry, key, file)
}

/// [`read_record`] if the bytes need no wait for the device: `Ok(false)` (nothing read,
/// nothing checked) when they would.
fn read_record_nowait(file: &Handle, entry: &Entry, key: &[u8], rec: &mut Vec<u8>) -> Result<bool> {
    rec.resize(entry.len as usize, 0);
    let read = file.raw().read_exact_at_nowait(rec, entry.offset);
    if !read.map_err(|err| read_error(file, entry, err))? {
        return Ok(false);
    }
    check_record(rec, entry, key, file)?;
    Ok(true)
}

fn read_error(file: &Handle, entry: &Entry, err: std::io::Error) -> Error {
    if err.kind() == ErrorKind::UnexpectedEof {
        corrupt(file.path(), entry.offset, "the file ends inside the record")
    } else {
        Error::io(file.path(), err)
    }
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
