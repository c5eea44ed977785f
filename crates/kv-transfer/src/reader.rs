//! [`DumpReader`]: reads and checks a dump block by block, in bounded memory.

use std::io::{ErrorKind, Read};

use bytes::Bytes;

use crate::digest::{Digest, Digester};
use crate::format::{
    BLOCK_FLAG_ZSTD, BLOCK_HEADER_LEN, BlockHeader, BlockKind, Cursor, FILE_HEADER_LEN, FileHeader,
    RECORD_OVERHEAD,
};
use crate::{Result, TransferError};

/// One pair of a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// Expiry in ms since the Unix epoch; 0 for none.
    pub deadline_ms: u64,
}

/// One checked block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// The following records belong to this partition.
    PartitionBegin(String),
    /// Pairs of the open partition, in ascending key order.
    Records(Vec<Record>),
    /// The open partition is complete; its digest, already checked against the
    /// records read.
    PartitionEnd(Digest),
}

/// Reads a dump. Every block is checked (header and payload checksums, sequence,
/// structure) before anything in it is returned; each partition's records are checked
/// against its digest at its end block, and the trailer against the whole file.
/// A failed check is [`TransferError::Corrupt`] naming the block and its offset.
pub struct DumpReader<R: Read> {
    input: R,
    header: FileHeader,
    seq: u64,
    offset: u64,
    partition: Option<Digester>,
    partitions: u32,
    records: u64,
    headers: blake3::Hasher,
    finished: bool,
}

impl<R: Read> DumpReader<R> {
    /// Reads and checks the file header.
    pub fn new(mut input: R) -> Result<Self> {
        let mut b = [0u8; FILE_HEADER_LEN];
        read_exact(&mut input, &mut b).map_err(|e| match e {
            Short::Eof => TransferError::Corrupt {
                block: None,
                offset: 0,
                detail: "file is shorter than the 32-byte header".into(),
            },
            Short::Io(e) => TransferError::Io {
                context: "reading the dump header".into(),
                source: e,
            },
        })?;
        let header = FileHeader::decode(&b)?;
        Ok(DumpReader {
            input,
            header,
            seq: 0,
            offset: FILE_HEADER_LEN as u64,
            partition: None,
            partitions: 0,
            records: 0,
            headers: blake3::Hasher::new(),
            finished: false,
        })
    }

    /// The file header.
    pub fn header(&self) -> FileHeader {
        self.header
    }

    /// The next block; `None` once the trailer has been read and checked (and nothing
    /// follows it).
    pub fn next_block(&mut self) -> Result<Option<Block>> {
        if self.finished {
            return Ok(None);
        }
        let (seq, offset) = (self.seq, self.offset);
        let corrupt = |detail: String| TransferError::Corrupt {
            block: Some(seq),
            offset,
            detail,
        };
        let mut hb = [0u8; BLOCK_HEADER_LEN];
        self.read(
            &mut hb,
            "the file ends where a block header (or the trailer) was expected",
        )?;
        let h = BlockHeader::decode(&hb).map_err(corrupt)?;
        if u64::from(h.seq) != seq {
            return Err(corrupt(format!(
                "sequence number {} where {seq} was expected (a block is missing or repeated)",
                h.seq
            )));
        }
        let mut stored = vec![0u8; h.stored_len as usize];
        self.read(&mut stored, "the file ends inside the block's payload")?;
        if crc32c::crc32c(&stored) != h.payload_crc {
            return Err(corrupt("payload checksum mismatch".into()));
        }
        let raw = self.decompress(&h, stored).map_err(corrupt)?;
        let kind = BlockKind::from_u8(h.kind)
            .ok_or_else(|| corrupt(format!("unknown block kind {}", h.kind)))?;
        let block = self.decode(kind, raw).map_err(corrupt)?;
        self.headers.update(&hb);
        self.seq += 1;
        self.offset += (BLOCK_HEADER_LEN + h.stored_len as usize) as u64;
        Ok(block)
    }

    fn decode(&mut self, kind: BlockKind, raw: Bytes) -> Result<Option<Block>, String> {
        let mut c = Cursor::new(&raw);
        let block = match kind {
            BlockKind::PartitionBegin => {
                if self.partition.is_some() {
                    return Err("a partition begins before the previous one ended".into());
                }
                let len = c.u16()? as usize;
                let name = std::str::from_utf8(c.take(len)?)
                    .map_err(|_| "partition name is not UTF-8".to_owned())?
                    .to_owned();
                c.done()?;
                self.partition = Some(Digester::new());
                self.partitions += 1;
                Some(Block::PartitionBegin(name))
            }
            BlockKind::Records => {
                let digester = self
                    .partition
                    .as_mut()
                    .ok_or_else(|| "records outside a partition".to_owned())?;
                let count = c.u32()? as usize;
                if count > raw.len() / RECORD_OVERHEAD {
                    return Err(format!("record count {count} does not fit the payload"));
                }
                let mut out = Vec::with_capacity(count);
                for _ in 0..count {
                    let klen = c.u32()? as usize;
                    let vlen = c.u32()? as usize;
                    let deadline_ms = c.u64()?;
                    let key = c.take(klen)?;
                    let value = c.take(vlen)?;
                    digester.add(key, value);
                    out.push(Record {
                        key: raw.slice_ref(key),
                        value: raw.slice_ref(value),
                        deadline_ms,
                    });
                }
                c.done()?;
                self.records += count as u64;
                Some(Block::Records(out))
            }
            BlockKind::PartitionEnd => {
                let digester = self
                    .partition
                    .take()
                    .ok_or_else(|| "a partition ends that never began".to_owned())?;
                let stored = Digest {
                    keys: c.u64()?,
                    bytes: c.u64()?,
                    hash: c.take(32)?.try_into().map_err(|_| "digest".to_owned())?,
                };
                c.done()?;
                let read = digester.finish();
                if read != stored {
                    return Err(format!(
                        "partition digest mismatch: the end block says {stored}, the records read give {read}"
                    ));
                }
                Some(Block::PartitionEnd(stored))
            }
            BlockKind::Trailer => {
                if self.partition.is_some() {
                    return Err("the trailer comes inside a partition".into());
                }
                let partitions = c.u32()?;
                let records = c.u64()?;
                let hash = c.take(32)?;
                c.done()?;
                if partitions != self.partitions || records != self.records {
                    return Err(format!(
                        "trailer says {partitions} partitions and {records} records, the file holds {} and {}",
                        self.partitions, self.records
                    ));
                }
                if hash != self.headers.finalize().as_bytes() {
                    return Err("the hash of the block headers does not match the trailer (blocks were changed, dropped or reordered)".into());
                }
                self.finished = true;
                let mut probe = [0u8; 1];
                match self.input.read(&mut probe) {
                    Ok(0) => {}
                    Ok(_) => return Err("bytes follow the trailer".into()),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("reading after the trailer: {e}")),
                }
                None
            }
        };
        Ok(block)
    }

    fn read(&mut self, buf: &mut [u8], at_eof: &str) -> Result<()> {
        read_exact(&mut self.input, buf).map_err(|e| match e {
            Short::Eof => TransferError::Corrupt {
                block: Some(self.seq),
                offset: self.offset,
                detail: format!("truncated: {at_eof}"),
            },
            Short::Io(source) => TransferError::Io {
                context: format!("reading dump block {}", self.seq),
                source,
            },
        })
    }

    fn decompress(&self, h: &BlockHeader, stored: Vec<u8>) -> Result<Bytes, String> {
        if h.flags & BLOCK_FLAG_ZSTD == 0 {
            return Ok(Bytes::from(stored));
        }
        #[cfg(feature = "zstd")]
        {
            let raw = zstd::bulk::decompress(&stored, h.raw_len as usize)
                .map_err(|e| format!("zstd: {e}"))?;
            if raw.len() != h.raw_len as usize {
                return Err(format!(
                    "decompressed to {} bytes, the header says {}",
                    raw.len(),
                    h.raw_len
                ));
            }
            Ok(Bytes::from(raw))
        }
        #[cfg(not(feature = "zstd"))]
        {
            Err("zstd-compressed block: build kv-transfer with its `zstd` feature".into())
        }
    }
}

enum Short {
    Eof,
    Io(std::io::Error),
}

fn read_exact(input: &mut impl Read, buf: &mut [u8]) -> Result<(), Short> {
    input.read_exact(buf).map_err(|e| {
        if e.kind() == ErrorKind::UnexpectedEof {
            Short::Eof
        } else {
            Short::Io(e)
        }
    })
}
