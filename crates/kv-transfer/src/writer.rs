//! [`DumpWriter`]: writes the format of [`crate::format`] to any `Write`, one block at a
//! time, in bounded memory.

use std::io::Write;

use crate::digest::{Digest, Digester};
use crate::format::{
    BLOCK_FLAG_ZSTD, BlockHeader, BlockKind, FILE_FLAG_ZSTD, FileHeader, RECORD_OVERHEAD,
};
use crate::{Result, TransferError};

/// Default raw size at which a records block is closed: 1 MiB.
pub const DEFAULT_BLOCK_BYTES: usize = 1 << 20;

/// How blocks are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Payloads as they are.
    None,
    /// zstd at this level (1 to 22; 3 is a good default). A block that does not shrink
    /// is stored as it is. Needs the `zstd` feature.
    Zstd(i32),
}

/// Writes a dump: [`begin_partition`](Self::begin_partition), [`record`](Self::record)
/// for each pair in ascending key order, [`end_partition`](Self::end_partition), ...,
/// then [`finish`](Self::finish). Holds at most one block in memory.
pub struct DumpWriter<W: Write> {
    out: W,
    compression: Compression,
    block_bytes: usize,
    seq: u32,
    /// Bytes written so far (the next block's offset).
    offset: u64,
    /// Raw payload of the open records block (without its count).
    pending: Vec<u8>,
    pending_count: u32,
    partition: Option<Digester>,
    partitions: u32,
    records: u64,
    headers: blake3::Hasher,
}

impl<W: Write> DumpWriter<W> {
    /// Writes the file header. `created_ms` is stored as is (ms since the epoch).
    pub fn new(mut out: W, compression: Compression, created_ms: u64) -> Result<Self> {
        if let Compression::Zstd(_) = compression
            && !cfg!(feature = "zstd")
        {
            return Err(TransferError::NoZstd);
        }
        let flags = match compression {
            Compression::None => 0,
            Compression::Zstd(_) => FILE_FLAG_ZSTD,
        };
        out.write_all(&FileHeader { flags, created_ms }.encode())
            .map_err(TransferError::io("writing the dump header"))?;
        Ok(DumpWriter {
            out,
            compression,
            block_bytes: DEFAULT_BLOCK_BYTES,
            seq: 0,
            offset: crate::format::FILE_HEADER_LEN as u64,
            pending: Vec::new(),
            pending_count: 0,
            partition: None,
            partitions: 0,
            records: 0,
            headers: blake3::Hasher::new(),
        })
    }

    /// Sets the raw size at which a records block is closed (at least 4 KiB).
    pub fn block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes.max(4096);
        self
    }

    /// Opens partition `name`; the previous one must be closed.
    pub fn begin_partition(&mut self, name: &str) -> Result<()> {
        debug_assert!(
            self.partition.is_none(),
            "begin_partition inside a partition"
        );
        let mut payload = Vec::with_capacity(2 + name.len());
        payload.extend_from_slice(&(name.len() as u16).to_le_bytes());
        payload.extend_from_slice(name.as_bytes());
        self.block(BlockKind::PartitionBegin, &payload)?;
        self.partition = Some(Digester::new());
        self.partitions += 1;
        Ok(())
    }

    /// Adds one pair of the open partition. `deadline_ms`: when it expires (ms since
    /// the epoch), 0 for never.
    pub fn record(&mut self, key: &[u8], value: &[u8], deadline_ms: u64) -> Result<()> {
        if let Some(d) = self.partition.as_mut() {
            d.add(key, value);
        }
        self.pending
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.pending
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.pending.extend_from_slice(&deadline_ms.to_le_bytes());
        self.pending.extend_from_slice(key);
        self.pending.extend_from_slice(value);
        self.pending_count += 1;
        self.records += 1;
        if self.pending.len() + RECORD_OVERHEAD >= self.block_bytes {
            self.flush_records()?;
        }
        Ok(())
    }

    /// Closes the open partition; returns its digest.
    pub fn end_partition(&mut self) -> Result<Digest> {
        self.flush_records()?;
        let digest = self.partition.take().unwrap_or_default().finish();
        let mut payload = Vec::with_capacity(48);
        payload.extend_from_slice(&digest.keys.to_le_bytes());
        payload.extend_from_slice(&digest.bytes.to_le_bytes());
        payload.extend_from_slice(&digest.hash);
        self.block(BlockKind::PartitionEnd, &payload)?;
        Ok(digest)
    }

    /// Writes the trailer and flushes; returns the output and the bytes written.
    pub fn finish(mut self) -> Result<(W, u64)> {
        let mut payload = Vec::with_capacity(44);
        payload.extend_from_slice(&self.partitions.to_le_bytes());
        payload.extend_from_slice(&self.records.to_le_bytes());
        payload.extend_from_slice(self.headers.finalize().as_bytes());
        self.block(BlockKind::Trailer, &payload)?;
        self.out
            .flush()
            .map_err(TransferError::io("flushing the dump"))?;
        Ok((self.out, self.offset))
    }

    fn flush_records(&mut self) -> Result<()> {
        if self.pending_count == 0 {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(4 + self.pending.len());
        payload.extend_from_slice(&self.pending_count.to_le_bytes());
        payload.extend_from_slice(&self.pending);
        self.pending.clear();
        self.pending_count = 0;
        self.block(BlockKind::Records, &payload)
    }

    fn block(&mut self, kind: BlockKind, raw: &[u8]) -> Result<()> {
        let compressed = self.compress(raw)?;
        let (flags, stored) = match &compressed {
            Some(c) if c.len() < raw.len() => (BLOCK_FLAG_ZSTD, c.as_slice()),
            _ => (0, raw),
        };
        let header = BlockHeader {
            kind: kind as u8,
            flags,
            seq: self.seq,
            raw_len: raw.len() as u32,
            stored_len: stored.len() as u32,
            payload_crc: crc32c::crc32c(stored),
        }
        .encode();
        self.headers.update(&header);
        let context = || format!("writing dump block {}", self.seq);
        self.out
            .write_all(&header)
            .and_then(|()| self.out.write_all(stored))
            .map_err(TransferError::io(context()))?;
        self.seq += 1;
        self.offset += (header.len() + stored.len()) as u64;
        Ok(())
    }

    #[cfg(feature = "zstd")]
    fn compress(&self, raw: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.compression {
            Compression::None => Ok(None),
            Compression::Zstd(level) => zstd::bulk::compress(raw, level)
                .map(Some)
                .map_err(TransferError::io("zstd compression")),
        }
    }

    #[cfg(not(feature = "zstd"))]
    fn compress(&self, _raw: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}
