//! The dump format, version 1, byte by byte (also in `docs/dump-format.md`).
//!
//! All integers little-endian; checksums CRC-32C.
//!
//! File header, 32 bytes: magic `KVBDUMP\0` (8), version u16 (=1), flags u16 (bit 0:
//! blocks may be zstd-compressed), reserved u32 (0), created u64 (ms since the Unix
//! epoch), reserved u32 (0), CRC-32C of bytes 0..28.
//!
//! Then blocks, each a 24-byte header and a payload: kind u8, flags u8 (bit 0: payload
//! is zstd), reserved u16 (0), sequence u32 (0, 1, 2, ...), raw length u32 (payload
//! length after decompression), stored length u32, CRC-32C of the stored payload, CRC-32C
//! of header bytes 0..20. The last block is the trailer; nothing may follow it.

use crate::TransferError;

/// First 8 bytes of every dump.
pub const MAGIC: &[u8; 8] = b"KVBDUMP\0";
/// The version this build writes and reads.
pub const VERSION: u16 = 1;
/// File header length.
pub const FILE_HEADER_LEN: usize = 32;
/// Block header length.
pub const BLOCK_HEADER_LEN: usize = 24;
/// Largest raw or stored payload a reader accepts (checked before allocating).
pub const MAX_BLOCK_LEN: u32 = 64 << 20;
/// File flag: blocks may be zstd-compressed.
pub const FILE_FLAG_ZSTD: u16 = 1;
/// Block flag: this payload is zstd-compressed.
pub const BLOCK_FLAG_ZSTD: u8 = 1;
/// Per-record overhead in a records block: key length, value length, deadline.
pub const RECORD_OVERHEAD: usize = 16;

/// What a block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum BlockKind {
    /// Opens a partition: `u16` name length, the name (UTF-8).
    PartitionBegin = 1,
    /// Pairs of the open partition: `u32` count, then per record `u32` key length,
    /// `u32` value length, `u64` deadline (ms since the epoch, 0 = none), key, value.
    Records = 2,
    /// Closes the open partition: `u64` keys, `u64` bytes, 32-byte BLAKE3 digest (see
    /// [`Digest`](crate::Digest)).
    PartitionEnd = 3,
    /// Ends the dump: `u32` partitions, `u64` records, 32-byte BLAKE3 of every
    /// preceding block header (24 bytes each, in order).
    Trailer = 4,
}

impl BlockKind {
    pub(crate) fn from_u8(b: u8) -> Option<BlockKind> {
        Some(match b {
            1 => BlockKind::PartitionBegin,
            2 => BlockKind::Records,
            3 => BlockKind::PartitionEnd,
            4 => BlockKind::Trailer,
            _ => return None,
        })
    }
}

/// The file header's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// [`FILE_FLAG_ZSTD`] or 0.
    pub flags: u16,
    /// When the dump was started, ms since the Unix epoch.
    pub created_ms: u64,
}

impl FileHeader {
    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        let mut b = [0u8; FILE_HEADER_LEN];
        b[0..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[10..12].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.created_ms.to_le_bytes());
        let crc = crc32c::crc32c(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks magic, checksum and version.
    pub fn decode(b: &[u8; FILE_HEADER_LEN]) -> Result<FileHeader, TransferError> {
        let bad = |detail: &str| TransferError::Corrupt {
            block: None,
            offset: 0,
            detail: detail.to_owned(),
        };
        if &b[0..8] != MAGIC {
            return Err(bad("not a kvb dump (magic `KVBDUMP\\0` missing)"));
        }
        if crc32c::crc32c(&b[..28]) != u32_at(b, 28) {
            return Err(bad("header checksum mismatch"));
        }
        let version = u16_at(b, 8);
        if version != VERSION {
            return Err(TransferError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        Ok(FileHeader {
            flags: u16_at(b, 10),
            created_ms: u64_at(b, 16),
        })
    }
}

/// A block header's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Kind byte (checked by the reader).
    pub kind: u8,
    /// [`BLOCK_FLAG_ZSTD`] or 0.
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Payload length once decompressed.
    pub raw_len: u32,
    /// Payload length in the file.
    pub stored_len: u32,
    /// CRC-32C of the stored payload.
    pub payload_crc: u32,
}

impl BlockHeader {
    /// The 24 header bytes.
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut b = [0u8; BLOCK_HEADER_LEN];
        b[0] = self.kind;
        b[1] = self.flags;
        b[4..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..12].copy_from_slice(&self.raw_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.stored_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&b[..20]);
        b[20..24].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks the header checksum and the lengths; `Err(detail)` names the failure.
    pub fn decode(b: &[u8; BLOCK_HEADER_LEN]) -> Result<BlockHeader, String> {
        if crc32c::crc32c(&b[..20]) != u32_at(b, 20) {
            return Err("block header checksum mismatch".into());
        }
        let h = BlockHeader {
            kind: b[0],
            flags: b[1],
            seq: u32_at(b, 4),
            raw_len: u32_at(b, 8),
            stored_len: u32_at(b, 12),
            payload_crc: u32_at(b, 16),
        };
        if h.raw_len > MAX_BLOCK_LEN || h.stored_len > MAX_BLOCK_LEN {
            return Err(format!(
                "block length {} / {} exceeds the limit of {MAX_BLOCK_LEN}",
                h.raw_len, h.stored_len
            ));
        }
        if h.flags & !BLOCK_FLAG_ZSTD != 0 || b[2] != 0 || b[3] != 0 {
            return Err("unknown block flags".into());
        }
        if h.flags & BLOCK_FLAG_ZSTD == 0 && h.raw_len != h.stored_len {
            return Err("uncompressed block with different raw and stored lengths".into());
        }
        Ok(h)
    }
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Reads a payload field by field, every length checked against what is left.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() - self.pos < n {
            return Err(format!(
                "payload ends after {} bytes, {n} more expected at {}",
                self.buf.len(),
                self.pos
            ));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u16(&mut self) -> Result<u16, String> {
        self.take(2).map(|b| u16_at(b, 0))
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        self.take(4).map(|b| u32_at(b, 0))
    }

    pub fn u64(&mut self) -> Result<u64, String> {
        self.take(8).map(|b| u64_at(b, 0))
    }

    pub fn done(&self) -> Result<(), String> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes at the end of the payload",
                self.buf.len() - self.pos
            ))
        }
    }
}
