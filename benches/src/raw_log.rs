//! The ideal append log: the least work a Bitcask-style store can do at backend-file's
//! durability levels. One file, records in backend-file's own record format (its
//! encoder: 40-byte header, CRC32C), an ordered keydir (`RwLock<BTreeMap>`) of
//! `(offset, length)`. Every write is one `pwrite` before it returns, so like
//! backend-file's default it survives a process kill (a user-space buffer would not);
//! durable mode follows it with an `fdatasync` (one sync per write: no group commit).
//! A get is a keydir lookup, a `pread` and a CRC check. Opening an existing log reads
//! it once, checking every CRC, to rebuild the keydir. No rotation, no merge, no hints,
//! no TTL, no watch.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Bound;
use std::os::unix::fs::FileExt;

use backend_file::format::{Kind, RECORD_HEADER_LEN, RecordHeader, record_crc_ok};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::subject::{Spec, Subject, consume};

/// Record header bytes (backend-file's).
pub const HEADER: usize = RECORD_HEADER_LEN;
/// Read buffer of recovery.
const BUFFER: usize = 1 << 20;
/// Longest record the log reads back (a 16 MiB value and a 1 KiB key, plus header).
const MAX_RECORD: usize = HEADER + 1024 + (16 << 20);

/// Appends one backend-file put record for `key` = `value` (partition 1, no expiry)
/// to `buf`.
pub fn encode(buf: &mut Vec<u8>, seq: u64, key: &[u8], value: &[u8]) {
    let header = RecordHeader {
        kind: Kind::Put,
        flags: 0,
        partition: 1,
        seq,
        expiry: 0,
        key_len: key.len() as u32,
        value_len: value.len() as u32,
    };
    header.encode_into(key, value, buf);
}

/// Checks a whole record (header checksum and fields, then the full CRC); returns its
/// header.
fn check(rec: &[u8]) -> Option<RecordHeader> {
    let header = RecordHeader::decode(rec).ok()?;
    (header.total_len() == rec.len() as u64 && record_crc_ok(rec)).then_some(header)
}

/// Where the value starts in a record with `header`.
fn value_at(header: &RecordHeader) -> usize {
    HEADER + header.key_len as usize
}

struct Writer {
    /// Encoding buffer, reused.
    buf: Vec<u8>,
    /// End of the log.
    end: u64,
    seq: u64,
}

/// The raw log. See the module docs.
pub struct RawLog {
    file: File,
    writer: Mutex<Writer>,
    keydir: RwLock<BTreeMap<Bytes, (u64, u32)>>,
    durable: bool,
}

impl RawLog {
    /// Writes the encoded records in the buffer at the end of the log, then syncs when
    /// durable (caller holds the writer lock).
    fn write_locked(&self, w: &mut Writer) {
        let at = w.end - w.buf.len() as u64;
        self.file.write_all_at(&w.buf, at).expect("pwrite");
        if self.durable {
            self.file.sync_data().expect("fdatasync");
        }
    }

    /// Appends records for `pairs` as one write and indexes them; returns once they
    /// are in the OS (or on stable storage when durable).
    fn append<'a>(&self, pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
        let mut w = self.writer.lock();
        w.buf.clear();
        let mut placed = Vec::new();
        for (k, v) in pairs {
            w.seq += 1;
            let seq = w.seq;
            let before = w.buf.len();
            encode(&mut w.buf, seq, k, v);
            let len = w.buf.len() - before;
            placed.push((Bytes::copy_from_slice(k), (w.end, len as u32)));
            w.end += len as u64;
        }
        self.write_locked(&mut w);
        // Index under the writer lock, so the keydir follows log order.
        self.keydir.write().extend(placed);
    }

    /// Reads and checks the record at `(at, len)`; returns its value.
    fn read(&self, at: u64, len: u32) -> Bytes {
        let mut rec = vec![0u8; len as usize];
        self.file.read_exact_at(&mut rec, at).expect("pread");
        let header = check(&rec).expect("record CRC");
        Bytes::from(rec).slice(value_at(&header)..)
    }

    fn lookup(&self, key: &[u8]) -> Option<(u64, u32)> {
        self.keydir.read().get(key).copied()
    }

    /// Rebuilds the keydir from the file; stops at the first torn or corrupt record.
    fn recover(file: &File) -> (BTreeMap<Bytes, (u64, u32)>, u64, u64) {
        let mut keydir = BTreeMap::new();
        let mut reader = BufReader::with_capacity(BUFFER, file);
        let (mut at, mut seq) = (0u64, 0u64);
        let mut header = [0u8; HEADER];
        let mut rec = Vec::new();
        while reader.read_exact(&mut header).is_ok() {
            let Ok(fields) = RecordHeader::decode(&header) else {
                break;
            };
            let len = fields.total_len() as usize;
            if len > MAX_RECORD {
                break;
            }
            rec.clear();
            rec.extend_from_slice(&header);
            rec.resize(len, 0);
            if reader.read_exact(&mut rec[HEADER..]).is_err() || !record_crc_ok(&rec) {
                break;
            }
            seq = seq.max(fields.seq);
            keydir.insert(
                Bytes::copy_from_slice(&rec[HEADER..value_at(&fields)]),
                (at, len as u32),
            );
            at += len as u64;
        }
        (keydir, at, seq)
    }
}

impl Subject for RawLog {
    async fn open(spec: &Spec) -> Self {
        let dir = spec.dir.as_deref().expect("raw_log needs Spec::dir");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("raw.log"))
            .expect("open raw log");
        let (keydir, end, seq) = RawLog::recover(&file);
        file.set_len(end).expect("cut torn tail");
        RawLog {
            file,
            writer: Mutex::new(Writer {
                buf: Vec::with_capacity(4 << 10),
                end,
                seq,
            }),
            keydir: RwLock::new(keydir),
            durable: spec.durable,
        }
    }

    fn name(&self) -> &'static str {
        "raw_log"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        let (at, len) = self.lookup(key)?;
        Some(self.read(at, len))
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        self.append(std::iter::once((key, value)));
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        consume(
            keys.iter()
                .filter_map(|k| self.lookup(k))
                .map(|(at, len)| self.read(at, len)),
        )
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: usize, reverse: bool) -> usize {
        let places: Vec<(Bytes, (u64, u32))> = {
            let keydir = self.keydir.read();
            let range = keydir.range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
            let copy = |(k, p): (&Bytes, &(u64, u32))| (k.clone(), *p);
            if reverse {
                range.rev().take(limit).map(copy).collect()
            } else {
                range.take(limit).map(copy).collect()
            }
        };
        consume(
            places
                .into_iter()
                .map(|(k, (at, len))| (k, self.read(at, len))),
        )
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        self.append(pairs.iter().map(|(k, v)| (&k[..], &v[..])));
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        // Compare and append under one writer lock.
        let mut w = self.writer.lock();
        let current = self.lookup(key).map(|(at, len)| self.read(at, len));
        if current.as_deref() != expected {
            return false;
        }
        w.buf.clear();
        w.seq += 1;
        let seq = w.seq;
        encode(&mut w.buf, seq, key, new);
        let len = w.buf.len();
        let at = w.end;
        w.end += len as u64;
        self.write_locked(&mut w);
        self.keydir
            .write()
            .insert(Bytes::copy_from_slice(key), (at, len as u32));
        true
    }

    async fn conditional_batch(
        &self,
        _checks: &[(Bytes, Bytes)],
        _writes: &[(Bytes, Bytes)],
    ) -> bool {
        unreachable!("the workload table skips multi-key conditions on raw_log")
    }

    async fn delete_range(&self, _start: &[u8], _end: &[u8]) {
        unreachable!("the workload table skips range deletes on raw_log")
    }

    async fn close(&self) {
        let _w = self.writer.lock();
        self.file.sync_data().expect("fdatasync");
    }
}
