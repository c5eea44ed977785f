//! Hint files: a compact index of one data file, so open need not read the values.
//!
//! Layout: a file header (kind hint, the data file's id), then one entry per record,
//! then a 24-byte trailer with the entry count, the data file length covered, and a
//! CRC-32C over every byte before it. A hint that fails any check is ignored and the
//! data file is scanned instead.
//!
//! Merge writes a hint beside every output file; rotation has the sealer thread
//! ([`build_hint`], [`install_hint`]) write one for every sealed file.

use backend_api::Result;

use crate::error::IoAt;
use crate::files::{Dir, Handle, hint_name, tmp_name};
use crate::format::{
    FILE_HEADER_LEN, FILE_KIND_DATA, FILE_KIND_HINT, FileHeader, Kind, Limits, RECORD_HEADER_LEN,
    u32_at, u64_at,
};
use crate::io::OpenMode;
use crate::reader::{Framing, Records, Step};

/// Bytes of a hint entry before its key.
pub const HINT_ENTRY_LEN: usize = 40;
/// Bytes of the trailer.
pub const HINT_TRAILER_LEN: usize = 24;
/// Trailer magic.
pub const HINT_END: &[u8; 4] = b"HEND";

/// One record as a hint file describes it; the key borrowed from the caller's record
/// or from a [`Hint`]'s buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HintEntry<'k> {
    /// The record's kind.
    pub kind: Kind,
    /// Partition id.
    pub partition: u32,
    /// Sequence number.
    pub seq: u64,
    /// Expiry (ms since the epoch, 0 = never).
    pub expiry: u64,
    /// Offset of the record in the data file.
    pub offset: u64,
    /// Length of the whole record.
    pub len: u32,
    /// The key.
    pub key: &'k [u8],
}

/// Streams a hint file out, checksumming as it goes.
pub struct HintWriter {
    out: Handle,
    buf: Vec<u8>,
    /// Bytes of `out` already written.
    written: u64,
    crc: u32,
    count: u64,
}

const HINT_BUF: usize = 256 << 10;

impl HintWriter {
    /// Starts a hint for data file `data_id` in the (new, empty) `file`.
    pub fn new(file: Handle, data_id: u64) -> Result<Self> {
        let mut w = HintWriter {
            out: file,
            buf: Vec::with_capacity(HINT_BUF),
            written: 0,
            crc: 0,
            count: 0,
        };
        let header = FileHeader {
            version: crate::format::VERSION,
            kind: FILE_KIND_HINT,
            flags: 0,
            file_id: data_id,
            seq_floor: 0,
        };
        w.write(&header.encode())?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, b);
        self.buf.extend_from_slice(b);
        if self.buf.len() >= HINT_BUF {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out.write_all_at(&self.buf, self.written)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Adds one entry.
    pub fn add(&mut self, e: &HintEntry<'_>) -> Result<()> {
        let mut b = [0u8; HINT_ENTRY_LEN];
        b[0] = e.kind as u8;
        b[4..8].copy_from_slice(&e.partition.to_le_bytes());
        b[8..16].copy_from_slice(&e.seq.to_le_bytes());
        b[16..24].copy_from_slice(&e.expiry.to_le_bytes());
        b[24..32].copy_from_slice(&e.offset.to_le_bytes());
        b[32..36].copy_from_slice(&e.len.to_le_bytes());
        b[36..40].copy_from_slice(&(e.key.len() as u32).to_le_bytes());
        self.write(&b)?;
        self.write(e.key)?;
        self.count += 1;
        Ok(())
    }

    /// Writes the trailer and fsyncs; `data_len` is the data file's final length.
    pub fn finish(mut self, data_len: u64) -> Result<()> {
        let mut t = [0u8; HINT_TRAILER_LEN];
        t[0..8].copy_from_slice(&self.count.to_le_bytes());
        t[8..16].copy_from_slice(&data_len.to_le_bytes());
        let crc = crc32c::crc32c_append(self.crc, &t[0..16]);
        t[16..20].copy_from_slice(&crc.to_le_bytes());
        t[20..24].copy_from_slice(HINT_END);
        self.buf.extend_from_slice(&t);
        self.flush()?;
        self.out.sync_data()
    }
}

/// Builds the hint file of the sealed data file `id` (`len` bytes, never appended to
/// again) under its temporary name: syncs the data file, reads it back record by record
/// (every checksum, limit and the batch framing checked), writes and fsyncs
/// `<id>.hint.tmp`. [`install_hint`] then puts it in place.
///
/// `Ok(false)` (and no temporary file left) if the data file does not read back as
/// whole, valid records: open will scan it, as it would without a hint.
pub fn build_hint(dir: &Dir, id: u64, file: &Handle, len: u64, limits: &Limits) -> Result<bool> {
    // The hint must never describe records that a power loss could still take away.
    file.sync_data()?;
    let tmp = tmp_name(&hint_name(id));
    let result = (|| {
        let mut hint = HintWriter::new(dir.open(&tmp, OpenMode::CreateTruncate)?, id)?;
        if !hint_records(file, id, len, limits, &mut hint)? {
            return Ok(false);
        }
        hint.finish(len)?;
        Ok(true)
    })();
    if !matches!(result, Ok(true)) {
        let _ = dir.remove_if_exists(&tmp);
    }
    result
}

/// Renames the hint [`build_hint`] left under its temporary name into place and
/// fsyncs the directory (`keep`), or removes it (`!keep`: its data file is gone).
pub fn install_hint(dir: &Dir, id: u64, keep: bool) -> Result<()> {
    let tmp = tmp_name(&hint_name(id));
    if !keep {
        return dir.remove_if_exists(&tmp);
    }
    dir.rename(&tmp, &hint_name(id))?;
    dir.sync()
}

/// Adds an entry per record of data file `id` to `hint`; false at the first record
/// that is not whole and valid, or if the file ends inside a batch.
fn hint_records(
    file: &Handle,
    id: u64,
    len: u64,
    limits: &Limits,
    hint: &mut HintWriter,
) -> Result<bool> {
    if len < FILE_HEADER_LEN as u64 {
        return Ok(false);
    }
    let mut hb = [0u8; FILE_HEADER_LEN];
    file.read_exact_at(&mut hb, 0)?;
    let version = match FileHeader::decode(&hb) {
        Ok(h) if h.kind == FILE_KIND_DATA && h.file_id == id => h.version,
        _ => return Ok(false),
    };
    let mut records = Records::new(file.raw(), len, limits, version);
    let mut framing = Framing::default();
    loop {
        let rec = match records.next().at(file.path())? {
            Step::Record(rec) => rec,
            Step::End => return Ok(framing.open_at().is_none()),
            Step::Torn | Step::Bad { .. } => return Ok(false),
        };
        if framing.step(rec.header.flags, rec.pos).is_err() {
            return Ok(false);
        }
        let h = rec.header;
        hint.add(&HintEntry {
            kind: h.kind,
            partition: h.partition,
            seq: h.seq,
            expiry: h.expiry,
            offset: rec.pos,
            len: rec.len() as u32,
            key: rec.key(),
        })?;
    }
}

/// A verified hint file, held as read: its bytes and where each entry starts. Entries
/// are decoded on demand, their keys borrowed from the buffer, so reading a hint costs
/// one allocation of its length plus 8 bytes per entry, and nothing per key.
pub struct Hint {
    buf: Vec<u8>,
    starts: Vec<usize>,
}

impl Hint {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Entry `i` (every field was checked by [`read_hint`]).
    pub fn entry(&self, i: usize) -> HintEntry<'_> {
        let at = self.starts[i];
        let e = &self.buf[at..at + HINT_ENTRY_LEN];
        let key_len = u32_at(e, 36) as usize;
        HintEntry {
            kind: Kind::from_byte(e[0]).unwrap_or(Kind::Put),
            partition: u32_at(e, 4),
            seq: u64_at(e, 8),
            expiry: u64_at(e, 16),
            offset: u64_at(e, 24),
            len: u32_at(e, 32),
            key: &self.buf[at + HINT_ENTRY_LEN..at + HINT_ENTRY_LEN + key_len],
        }
    }
}

/// Reads and verifies the hint for data file `data_id` of length `data_len`.
///
/// `Ok(None)` means the hint is unusable (bad checksum, wrong file, out-of-range entry):
/// the caller scans the data file instead. No length read from the file is trusted
/// before it is checked.
pub fn read_hint(dir: &Dir, data_id: u64, data_len: u64, limits: &Limits) -> Result<Option<Hint>> {
    let file = dir.open(&hint_name(data_id), OpenMode::Read)?;
    let len = file.len()?;
    if len < (FILE_HEADER_LEN + HINT_TRAILER_LEN) as u64 {
        return Ok(None);
    }
    let body_len = len - HINT_TRAILER_LEN as u64;
    let Ok(whole) = usize::try_from(len) else {
        return Ok(None);
    };
    let mut buf = vec![0u8; whole];
    file.read_exact_at(&mut buf, 0)?;
    let body_end = body_len as usize;
    let t = &buf[body_end..];
    let crc = crc32c::crc32c(&buf[..body_end]);
    if &t[20..24] != HINT_END || crc32c::crc32c_append(crc, &t[0..16]) != u32_at(t, 16) {
        return Ok(None);
    }
    let count = u64_at(t, 0);
    if u64_at(t, 8) != data_len {
        return Ok(None);
    }
    // Pass 2: parse, checking every field.
    match FileHeader::decode(&buf[..FILE_HEADER_LEN]) {
        Ok(fh) if fh.kind == FILE_KIND_HINT && fh.file_id == data_id => {}
        _ => return Ok(None),
    }
    let mut pos = FILE_HEADER_LEN as u64;
    // Each entry is at least HINT_ENTRY_LEN + 1 bytes: bound the count before reserving.
    if count > (body_len - pos) / (HINT_ENTRY_LEN as u64 + 1) + 1 {
        return Ok(None);
    }
    let mut starts = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if body_len - pos < HINT_ENTRY_LEN as u64 {
            return Ok(None);
        }
        let start = pos as usize;
        let e = &buf[start..start + HINT_ENTRY_LEN];
        pos += HINT_ENTRY_LEN as u64;
        let Some(kind) = Kind::from_byte(e[0]) else {
            return Ok(None);
        };
        let key_len = u32_at(e, 36) as usize;
        let rec_len = u32_at(e, 32);
        let offset = u64_at(e, 24);
        if key_len == 0
            || key_len > limits.max_key_field(kind)
            || (key_len as u64) > body_len - pos
            || u64::from(rec_len) < (RECORD_HEADER_LEN + key_len) as u64
            || u64::from(rec_len) > limits.max_record_len(kind)
            || offset < FILE_HEADER_LEN as u64
            || offset
                .checked_add(u64::from(rec_len))
                .is_none_or(|end| end > data_len)
        {
            return Ok(None);
        }
        let key = &buf[pos as usize..pos as usize + key_len];
        pos += key_len as u64;
        if limits.check_key_field(kind, key).is_err() {
            return Ok(None);
        }
        starts.push(start);
    }
    if pos != body_len {
        return Ok(None);
    }
    Ok(Some(Hint { buf, starts }))
}
