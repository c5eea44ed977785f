//! The on-disk byte layout: file headers and records (see `docs/file-format.md`).
//!
//! Everything is little-endian. Checksums are CRC-32C (Castagnoli).

use backend_api::KeyRange;
use bytes::Bytes;

/// Bytes of the header that starts every data, hint and manifest-free file.
pub const FILE_HEADER_LEN: usize = 40;
/// Bytes of the fixed part of every record, before the key and value.
pub const RECORD_HEADER_LEN: usize = 40;
/// The magic bytes that open every data and hint file.
pub const MAGIC: &[u8; 8] = b"KVBITCSK";
/// The format version this crate writes in every new data and hint file. Version 2
/// added [`Kind::DeleteRange`]; a build that knows only version 1 refuses such a file
/// (`Error::UnsupportedVersion`) instead of misreading it.
pub const VERSION: u16 = 2;
/// The oldest format version this crate reads (files written before range deletes).
pub const MIN_VERSION: u16 = 1;
/// The first format version whose data files may hold [`Kind::DeleteRange`] records.
pub const RANGE_DELETE_VERSION: u16 = 2;

/// Bytes of the fixed part of an encoded range (bounds byte, start length).
pub const RANGE_PREFIX_LEN: usize = 5;
/// Range encoding, bounds byte: the start bound is present.
pub const RANGE_HAS_START: u8 = 1;
/// Range encoding, bounds byte: the end bound is present.
pub const RANGE_HAS_END: u8 = 2;

/// File header `kind` of a data file.
pub const FILE_KIND_DATA: u16 = 1;
/// File header `kind` of a hint file.
pub const FILE_KIND_HINT: u16 = 2;
/// File header flag: the data file was written by a merge.
pub const FILE_FLAG_MERGED: u32 = 1;

/// Record flag: the record belongs to a batch.
pub const FLAG_BATCH: u8 = 1;
/// Record flag: the first record of a batch.
pub const FLAG_BEGIN: u8 = 2;
/// Record flag: the last record of a batch (commits it).
pub const FLAG_END: u8 = 4;

/// What a record does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Sets a key.
    Put = 1,
    /// Removes a key (a tombstone).
    Delete = 2,
    /// Creates a partition: key = name, partition = its id.
    CreatePartition = 3,
    /// Drops a partition: key = name, partition = its id.
    DropPartition = 4,
    /// Removes every key of a range written with a lower sequence number (a range
    /// tombstone): key = the range, encoded by [`encode_range`]; no value. Format
    /// version 2 on.
    DeleteRange = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Put,
            2 => Kind::Delete,
            3 => Kind::CreatePartition,
            4 => Kind::DropPartition,
            5 => Kind::DeleteRange,
            _ => return None,
        })
    }

    /// The kind stored as byte `b`, if any.
    pub fn from_byte(b: u8) -> Option<Kind> {
        Self::from_u8(b)
    }
}

/// The key field of a [`Kind::DeleteRange`] record: a bounds byte
/// ([`RANGE_HAS_START`] | [`RANGE_HAS_END`]), the start bound's length (u32, 0 when
/// absent), the start bytes, then the end bytes (the rest).
pub fn encode_range(range: &KeyRange) -> Vec<u8> {
    let start = range.start.as_deref().unwrap_or_default();
    let end = range.end.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(RANGE_PREFIX_LEN + start.len() + end.len());
    let bounds = if range.start.is_some() {
        RANGE_HAS_START
    } else {
        0
    } | if range.end.is_some() {
        RANGE_HAS_END
    } else {
        0
    };
    out.push(bounds);
    out.extend_from_slice(&(start.len() as u32).to_le_bytes());
    out.extend_from_slice(start);
    out.extend_from_slice(end);
    out
}

/// Parses what [`encode_range`] wrote; the error says what is wrong. Each bound
/// present must be 1 to `max_key_len` bytes; an absent one has no bytes.
pub fn decode_range(b: &[u8], max_key_len: usize) -> Result<KeyRange, String> {
    if b.len() < RANGE_PREFIX_LEN {
        return Err(format!(
            "range of {} bytes is shorter than its prefix",
            b.len()
        ));
    }
    let bounds = b[0];
    if bounds & !(RANGE_HAS_START | RANGE_HAS_END) != 0 {
        return Err(format!("bad range bounds byte {bounds:#04x}"));
    }
    let start_len = u32_at(b, 1) as usize;
    let rest = &b[RANGE_PREFIX_LEN..];
    if start_len > rest.len() {
        return Err(format!(
            "range start length {start_len} runs past the record"
        ));
    }
    let (start, end) = rest.split_at(start_len);
    let bound = |present: bool, bytes: &[u8], which: &str| -> Result<Option<Bytes>, String> {
        match (present, bytes.len()) {
            (false, 0) => Ok(None),
            (true, n) if (1..=max_key_len).contains(&n) => Ok(Some(Bytes::copy_from_slice(bytes))),
            (_, n) => Err(format!(
                "range {which} bound of {n} bytes does not match its flag"
            )),
        }
    };
    let mut range = KeyRange::all();
    range.start = bound(bounds & RANGE_HAS_START != 0, start, "start")?;
    range.end = bound(bounds & RANGE_HAS_END != 0, end, "end")?;
    Ok(range)
}

/// The header of a data or hint file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// Format version: [`VERSION`] for files written now, down to [`MIN_VERSION`] for
    /// files read back.
    pub version: u16,
    /// `FILE_KIND_DATA` or `FILE_KIND_HINT`.
    pub kind: u16,
    /// `FILE_FLAG_*` bits.
    pub flags: u32,
    /// The data file's id (a hint file names the data file it describes).
    pub file_id: u64,
    /// No record in this file or any later one has a sequence number below this.
    pub seq_floor: u64,
}

impl FileHeader {
    /// The 40 header bytes.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        let mut b = [0u8; FILE_HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&self.kind.to_le_bytes());
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.file_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.seq_floor.to_le_bytes());
        // 32..36 reserved, zero.
        let crc = crc32c::crc32c(&b[0..36]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks a file header; the error says what is wrong.
    pub fn decode(b: &[u8]) -> Result<FileHeader, String> {
        if b.len() < FILE_HEADER_LEN {
            return Err(format!(
                "file header is {} bytes, expected {FILE_HEADER_LEN}",
                b.len()
            ));
        }
        if &b[0..8] != MAGIC {
            return Err("bad magic in file header".into());
        }
        if crc32c::crc32c(&b[0..36]) != u32_at(b, 36) {
            return Err("file header checksum mismatch".into());
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(format!(
                "unsupported format version {version} (this build reads {MIN_VERSION} to \
                 {VERSION}); open the store with a build that knows it"
            ));
        }
        Ok(FileHeader {
            version,
            kind: u16::from_le_bytes([b[10], b[11]]),
            flags: u32_at(b, 12),
            file_id: u64_at(b, 16),
            seq_floor: u64_at(b, 24),
        })
    }
}

impl FileHeader {
    /// The version of a file header that is whole (magic and checksum hold) but names a
    /// format version this build does not read; `None` otherwise.
    pub fn unsupported_version(b: &[u8]) -> Option<u16> {
        if b.len() < FILE_HEADER_LEN
            || &b[0..8] != MAGIC
            || crc32c::crc32c(&b[0..36]) != u32_at(b, 36)
        {
            return None;
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        (!(MIN_VERSION..=VERSION).contains(&version)).then_some(version)
    }
}

/// The fixed part of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the record does.
    pub kind: Kind,
    /// `FLAG_*` bits (batch framing).
    pub flags: u8,
    /// Partition id.
    pub partition: u32,
    /// Sequence number: unique, increasing in write order across the whole store.
    pub seq: u64,
    /// Expiry in milliseconds since the Unix epoch; 0 = never.
    pub expiry: u64,
    /// Key length in bytes.
    pub key_len: u32,
    /// Value length in bytes.
    pub value_len: u32,
}

/// Why a record header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The header checksum does not match: garbage or a flipped bit.
    Checksum,
    /// The checksum matches but a field is impossible.
    Invalid(String),
}

impl RecordHeader {
    /// Bytes of the whole record: header, key, value.
    pub fn total_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + u64::from(self.key_len) + u64::from(self.value_len)
    }

    /// Appends the whole record (header, key, value) to `out`.
    pub fn encode_into(&self, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(key.len(), self.key_len as usize);
        debug_assert_eq!(value.len(), self.value_len as usize);
        let start = out.len();
        out.extend_from_slice(&[0u8; 8]);
        out.push(self.kind as u8);
        out.push(self.flags);
        out.extend_from_slice(&[0u8; 2]);
        out.extend_from_slice(&self.partition.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.expiry.to_le_bytes());
        out.extend_from_slice(&self.key_len.to_le_bytes());
        out.extend_from_slice(&self.value_len.to_le_bytes());
        let hcrc = crc32c::crc32c(&out[start + 8..start + RECORD_HEADER_LEN]);
        out.extend_from_slice(key);
        out.extend_from_slice(value);
        let crc = crc32c::crc32c(&out[start + 8..]);
        out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&hcrc.to_le_bytes());
    }

    /// Parses the first [`RECORD_HEADER_LEN`] bytes of `b` and checks the header checksum
    /// and the fields' own consistency (not limits: see [`Limits::check`]).
    pub fn decode(b: &[u8]) -> Result<RecordHeader, HeaderError> {
        if b.len() < RECORD_HEADER_LEN {
            return Err(HeaderError::Invalid("short record header".into()));
        }
        if crc32c::crc32c(&b[8..RECORD_HEADER_LEN]) != u32_at(b, 4) {
            return Err(HeaderError::Checksum);
        }
        let kind = Kind::from_u8(b[8])
            .ok_or_else(|| HeaderError::Invalid(format!("unknown record kind {}", b[8])))?;
        let flags = b[9];
        if flags & !(FLAG_BATCH | FLAG_BEGIN | FLAG_END) != 0
            || (flags != 0 && flags & FLAG_BATCH == 0)
        {
            return Err(HeaderError::Invalid(format!(
                "bad record flags {flags:#04x}"
            )));
        }
        if b[10] != 0 || b[11] != 0 {
            return Err(HeaderError::Invalid(
                "reserved record bytes are not zero".into(),
            ));
        }
        Ok(RecordHeader {
            kind,
            flags,
            partition: u32_at(b, 12),
            seq: u64_at(b, 16),
            expiry: u64_at(b, 24),
            key_len: u32_at(b, 32),
            value_len: u32_at(b, 36),
        })
    }
}

/// True when the record in `rec` (header, key, value, exactly) has a matching full CRC.
pub fn record_crc_ok(rec: &[u8]) -> bool {
    rec.len() >= RECORD_HEADER_LEN && crc32c::crc32c(&rec[8..]) == u32_at(rec, 0)
}

/// Size limits every length read from disk is checked against before allocating.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest key.
    pub max_key_len: usize,
    /// Longest value.
    pub max_value_len: usize,
    /// Longest whole record.
    pub max_record_size: u64,
}

impl Limits {
    /// Longest key field of a record of `kind` (an encoded range holds two keys).
    pub fn max_key_field(&self, kind: Kind) -> usize {
        match kind {
            Kind::DeleteRange => RANGE_PREFIX_LEN + 2 * self.max_key_len,
            _ => self.max_key_len.max(crate::MAX_NAME_LEN),
        }
    }

    /// Longest whole record of `kind`: `max_record_size`, but never less than a range
    /// tombstone with two keys of the longest length needs.
    pub fn max_record_len(&self, kind: Kind) -> u64 {
        match kind {
            Kind::DeleteRange => self
                .max_record_size
                .max((RECORD_HEADER_LEN + self.max_key_field(kind)) as u64),
            _ => self.max_record_size,
        }
    }

    /// Checks a decoded header against the limits.
    pub fn check(&self, h: &RecordHeader) -> Result<(), String> {
        let key_len = h.key_len as usize;
        let min_key = if h.kind == Kind::DeleteRange {
            RANGE_PREFIX_LEN
        } else {
            1
        };
        if key_len < min_key || key_len > self.max_key_field(h.kind) {
            return Err(format!("key length {key_len} out of range"));
        }
        if h.value_len as usize > self.max_value_len {
            return Err(format!("value length {} over the limit", h.value_len));
        }
        if h.total_len() > self.max_record_len(h.kind) {
            return Err(format!(
                "record length {} over max_record_size",
                h.total_len()
            ));
        }
        match h.kind {
            Kind::Put => {}
            Kind::Delete | Kind::CreatePartition | Kind::DropPartition | Kind::DeleteRange
                if h.value_len == 0 => {}
            _ => return Err("non-put record carries a value".into()),
        }
        if matches!(h.kind, Kind::CreatePartition | Kind::DropPartition) && h.flags != 0 {
            return Err("partition record inside a batch".into());
        }
        Ok(())
    }
}

impl Limits {
    /// Checks what a record header cannot say: a range tombstone's key field must be a
    /// well-formed range of valid keys.
    pub fn check_key_field(&self, kind: Kind, key: &[u8]) -> Result<(), String> {
        match kind {
            Kind::DeleteRange => decode_range(key, self.max_key_len).map(|_| ()),
            _ => Ok(()),
        }
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_every_bit_flip_is_caught() {
        let h = RecordHeader {
            kind: Kind::Put,
            flags: FLAG_BATCH | FLAG_BEGIN,
            partition: 7,
            seq: 42,
            expiry: 9,
            key_len: 3,
            value_len: 5,
        };
        let mut rec = Vec::new();
        h.encode_into(b"key", b"value", &mut rec);
        assert_eq!(rec.len() as u64, h.total_len());
        assert_eq!(RecordHeader::decode(&rec).unwrap(), h);
        assert!(record_crc_ok(&rec));
        for bit in 0..rec.len() * 8 {
            let mut bad = rec.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let header_ok = RecordHeader::decode(&bad).is_ok();
            assert!(!(header_ok && record_crc_ok(&bad)), "bit {bit} undetected");
        }
    }

    #[test]
    fn file_header_round_trips() {
        let h = FileHeader {
            version: VERSION,
            kind: FILE_KIND_DATA,
            flags: FILE_FLAG_MERGED,
            file_id: 3,
            seq_floor: 99,
        };
        assert_eq!(FileHeader::decode(&h.encode()).unwrap(), h);
        let mut b = h.encode();
        b[20] ^= 1;
        assert!(FileHeader::decode(&b).is_err());
        let old = FileHeader { version: 1, ..h };
        assert_eq!(FileHeader::decode(&old.encode()).unwrap(), old);
        let newer = FileHeader {
            version: VERSION + 1,
            ..h
        };
        let err = FileHeader::decode(&newer.encode()).unwrap_err();
        assert!(err.contains("unsupported format version"), "{err}");
        assert_eq!(
            FileHeader::unsupported_version(&newer.encode()),
            Some(VERSION + 1)
        );
        assert_eq!(FileHeader::unsupported_version(&old.encode()), None);
        assert_eq!(FileHeader::unsupported_version(&b), None);
    }

    #[test]
    fn ranges_round_trip_and_bad_encodings_are_refused() {
        for range in [
            KeyRange::all(),
            KeyRange::prefix("user:"),
            KeyRange::from(vec![0u8]),
            KeyRange::until(vec![0xFFu8; 1024]),
            KeyRange::between("b", "a"),
        ] {
            let enc = encode_range(&range);
            assert_eq!(decode_range(&enc, 1024).unwrap(), range);
        }
        assert!(decode_range(b"\x01\x00\x00\x00", 1024).is_err());
        assert!(decode_range(b"\x04\x00\x00\x00\x00", 1024).is_err());
        // Start flag without start bytes, end bytes without the end flag, length past end.
        assert!(decode_range(b"\x01\x00\x00\x00\x00", 1024).is_err());
        assert!(decode_range(b"\x00\x00\x00\x00\x00z", 1024).is_err());
        assert!(decode_range(b"\x01\x09\x00\x00\x00z", 1024).is_err());
        assert!(decode_range(&encode_range(&KeyRange::from(vec![1u8; 9])), 8).is_err());
    }
}
