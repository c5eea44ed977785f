//! The ideal append log: the least work a Bitcask-style store can do. One file, records
//! with backend-file's 40-byte header size and CRC32C, appended through a 1 MiB
//! user-space buffer, an ordered keydir (`RwLock<BTreeMap>`) of `(offset, length)`.
//! A get is a keydir lookup, a `pread` and a CRC check; durable mode writes the record
//! and `fdatasync`s before returning (one sync per write: no group commit). Opening an
//! existing log reads it once, checking every CRC, to rebuild the keydir. No rotation,
//! no merge, no hints, no TTL, no watch.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::subject::{Spec, Subject, consume};

/// Record header bytes: crc(4) header-crc(4) kind(4) version(4) seq(8) expiry(8)
/// key-len(4) value-len(4).
pub const HEADER: usize = 40;
const BUFFER: usize = 1 << 20;
/// Longest record the log reads back (a 16 MiB value and a 1 KiB key, plus header).
const MAX_RECORD: usize = HEADER + 1024 + (16 << 20);

/// Appends one record for `key` = `value` to `buf`.
pub fn encode(buf: &mut Vec<u8>, seq: u64, key: &[u8], value: &[u8]) {
    let at = buf.len();
    buf.extend_from_slice(&[0u8; 8]);
    buf.extend_from_slice(&1u32.to_le_bytes());
    buf.extend_from_slice(&1u32.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&0u64.to_le_bytes());
    buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
    let hcrc = crc32c::crc32c(&buf[at + 8..at + HEADER]);
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    let crc = crc32c::crc32c(&buf[at + 8..]);
    buf[at..at + 4].copy_from_slice(&crc.to_le_bytes());
    buf[at + 4..at + 8].copy_from_slice(&hcrc.to_le_bytes());
}

/// Checks a whole record's CRC; returns `(key, value)` ranges inside it.
fn check(rec: &[u8]) -> Option<(usize, usize)> {
    if rec.len() < HEADER {
        return None;
    }
    let word = |at: usize| u32::from_le_bytes([rec[at], rec[at + 1], rec[at + 2], rec[at + 3]]);
    let (klen, vlen) = (word(32) as usize, word(36) as usize);
    if HEADER + klen + vlen != rec.len() || crc32c::crc32c(&rec[8..]) != word(0) {
        return None;
    }
    Some((HEADER, HEADER + klen))
}

struct Writer {
    buf: Vec<u8>,
    /// Logical end of the log (file plus buffer).
    end: u64,
    seq: u64,
}

/// The raw log. See the module docs.
pub struct RawLog {
    file: File,
    writer: Mutex<Writer>,
    /// Bytes already in the file (a reader of a record past it flushes first).
    flushed: AtomicU64,
    keydir: RwLock<BTreeMap<Bytes, (u64, u32)>>,
    durable: bool,
}

impl RawLog {
    /// Writes the buffer to the file (caller holds the writer lock).
    fn flush_locked(&self, w: &mut Writer) {
        if !w.buf.is_empty() {
            let at = w.end - w.buf.len() as u64;
            self.file.write_all_at(&w.buf, at).expect("pwrite");
            w.buf.clear();
            self.flushed.store(w.end, Ordering::Release);
        }
    }

    /// Appends records for `pairs` and indexes them; returns once they are in the
    /// buffer (or on stable storage when durable).
    fn append<'a>(&self, pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
        let mut w = self.writer.lock();
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
        if self.durable {
            self.flush_locked(&mut w);
            self.file.sync_data().expect("fdatasync");
        } else if w.buf.len() >= BUFFER {
            self.flush_locked(&mut w);
        }
        // Index under the writer lock, so the keydir follows log order.
        self.keydir.write().extend(placed);
    }

    /// Reads and checks the record at `(at, len)`; returns its value.
    fn read(&self, at: u64, len: u32) -> Bytes {
        if at + u64::from(len) > self.flushed.load(Ordering::Acquire) {
            let mut w = self.writer.lock();
            self.flush_locked(&mut w);
        }
        let mut rec = vec![0u8; len as usize];
        self.file.read_exact_at(&mut rec, at).expect("pread");
        let (_, value_at) = check(&rec).expect("record CRC");
        Bytes::from(rec).slice(value_at..)
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
            let word = |i: usize| {
                u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]])
            };
            let len = HEADER + word(32) as usize + word(36) as usize;
            if len > MAX_RECORD || crc32c::crc32c(&header[8..]) != word(4) {
                break;
            }
            rec.clear();
            rec.extend_from_slice(&header);
            rec.resize(len, 0);
            if reader.read_exact(&mut rec[HEADER..]).is_err() {
                break;
            }
            let Some((key_at, value_at)) = check(&rec) else {
                break;
            };
            seq = seq.max(u64::from_le_bytes(
                rec[16..24].try_into().unwrap_or_default(),
            ));
            keydir.insert(
                Bytes::copy_from_slice(&rec[key_at..value_at]),
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
                buf: Vec::with_capacity(BUFFER + (64 << 10)),
                end,
                seq,
            }),
            flushed: AtomicU64::new(end),
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
        // Compare and append under one writer lock (re-entrant work done inline).
        let mut w = self.writer.lock();
        let current = self.lookup(key).map(|(at, len)| {
            if at + u64::from(len) > self.flushed.load(Ordering::Acquire) {
                self.flush_locked(&mut w);
            }
            let mut rec = vec![0u8; len as usize];
            self.file.read_exact_at(&mut rec, at).expect("pread");
            let (_, value_at) = check(&rec).expect("record CRC");
            rec.split_off(value_at)
        });
        if current.as_deref() != expected {
            return false;
        }
        w.seq += 1;
        let (seq, before) = (w.seq, w.buf.len());
        encode(&mut w.buf, seq, key, new);
        let len = w.buf.len() - before;
        let at = w.end;
        w.end += len as u64;
        if self.durable {
            self.flush_locked(&mut w);
            self.file.sync_data().expect("fdatasync");
        }
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
        let mut w = self.writer.lock();
        self.flush_locked(&mut w);
        self.file.sync_data().expect("fdatasync");
    }
}
