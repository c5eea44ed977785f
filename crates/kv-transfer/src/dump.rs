//! Dump a backend to a stream, and restore a dump into a backend.

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::time::{SystemTime, UNIX_EPOCH};

use backend_api::{Partition, ScanRange, StorageBackend};
use futures_util::StreamExt;

use crate::digest::{Digest, digest_partition};
use crate::progress::{OnProgress, Phase, Progress};
use crate::reader::{Block, DumpReader};
use crate::sink::Sink;
use crate::source::{deadline_ms, deadline_time, entries, scan_context};
use crate::writer::{Compression, DEFAULT_BLOCK_BYTES, DumpWriter};
use crate::{Result, TransferError, partitions};

/// What to dump and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DumpOptions {
    /// Only these partitions; `None`: every partition.
    pub partitions: Option<Vec<Partition>>,
    /// Block compression. Default zstd level 3 with the `zstd` feature, else none.
    pub compression: Compression,
    /// Raw size at which a records block is closed. Default 1 MiB.
    pub block_bytes: usize,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            partitions: None,
            compression: if cfg!(feature = "zstd") {
                Compression::Zstd(3)
            } else {
                Compression::None
            },
            block_bytes: DEFAULT_BLOCK_BYTES,
        }
    }
}

/// What a dump or restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Each partition with the digest of what was written (restore: of what the dump
    /// held, checked against the destination when `verified`).
    pub partitions: Vec<(String, Digest)>,
    /// Dump bytes written (dump) or pairs skipped because their deadline had passed
    /// (restore).
    pub extra: u64,
    /// Restore: the destination was read back and matched every digest.
    pub verified: bool,
    /// What could not be carried as asked, one line each (e.g. a source that cannot
    /// report TTLs, a destination without TTL): the transfer went on without it.
    pub warnings: Vec<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes every pair of `src` (or of `options.partitions`) to `out`, one partition
/// after the other, each in ascending key order, in bounded memory (one block).
///
/// **TTLs.** Each key's absolute deadline is read with the pair
/// ([`StorageBackend::scan_entries`]) and stored in its record (ms since the epoch,
/// rounded up), so a dump restored later does not extend a key's life. A source that
/// answers `Unsupported` to `scan_entries` is dumped with the plain scan, every record
/// without a deadline, and the summary's `warnings` says so.
///
/// **Live stores.** Each partition is read by one scan: under `snapshot_scan` it is
/// that partition's state at one moment; otherwise each key's value at some moment
/// during the dump. Partitions are read one after the other, not at one moment.
pub async fn dump<W: Write + Send>(
    src: &dyn StorageBackend,
    out: W,
    options: &DumpOptions,
    progress: OnProgress<'_>,
) -> Result<(W, Summary)> {
    let parts = partitions::select(src, options.partitions.as_deref()).await?;
    let total_keys = partitions::total(src, &parts).await?;
    let mut w =
        DumpWriter::new(out, options.compression, now_ms())?.block_bytes(options.block_bytes);
    let mut summary = Summary::default();
    let (mut keys, mut bytes) = (0u64, 0u64);
    for p in &parts {
        w.begin_partition(p.name())?;
        let context = || scan_context(src, p);
        let mut stream = entries(src, p, ScanRange::all(), &mut summary.warnings).await?;
        while let Some(item) = stream.next().await {
            let entry = item.map_err(TransferError::backend(context()))?;
            w.record(&entry.key, &entry.value, deadline_ms(entry.expires_at))?;
            keys += 1;
            bytes += (entry.key.len() + entry.value.len()) as u64;
            if keys.is_multiple_of(1024) {
                let report = Progress {
                    phase: Phase::Dump,
                    partition: p.name().to_owned(),
                    keys,
                    bytes,
                    total_keys,
                };
                if let ControlFlow::Break(()) = progress(&report) {
                    return Err(TransferError::Interrupted);
                }
            }
        }
        let digest = w.end_partition()?;
        summary.partitions.push((p.name().to_owned(), digest));
    }
    let _ = progress(&Progress {
        phase: Phase::Dump,
        partition: String::new(),
        keys,
        bytes,
        total_keys,
    });
    let (out, written) = w.finish()?;
    summary.extra = written;
    Ok((out, summary))
}

/// What to restore and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Pairs per batch written. Default 1000.
    pub batch_keys: usize,
    /// Bytes per batch written. Default 4 MiB.
    pub batch_bytes: usize,
    /// Write into partitions that already hold keys (the dump's pairs overwrite theirs;
    /// verification then fails where other keys remain). Default false: such a
    /// partition is refused before anything is written.
    pub merge: bool,
    /// Read every restored partition back and compare it with the dump's digest.
    /// Default true. Partitions with records that carry deadlines are not compared
    /// (expiry makes the two differ legitimately).
    pub verify: bool,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            batch_keys: 1000,
            batch_bytes: 4 << 20,
            merge: false,
            verify: true,
        }
    }
}

/// Reads the dump `input` (checking every block before using it) and writes its pairs
/// into `dst`, creating partitions as needed, in batches. A record whose deadline has
/// passed is skipped (counted in the summary's `extra`); one with a future deadline is
/// written with that deadline. A destination without `ttl` gets such pairs as
/// permanent keys, with a line in `warnings`. A corrupt dump stops the restore at the
/// bad block: pairs of earlier blocks are already written.
pub async fn restore<R: Read + Send>(
    input: R,
    dst: &dyn StorageBackend,
    options: &RestoreOptions,
    progress: OnProgress<'_>,
) -> Result<Summary> {
    let mut reader = DumpReader::new(input)?;
    let mut sink = Sink::new(dst, options.batch_keys, options.batch_bytes);
    let mut summary = Summary {
        verified: options.verify,
        ..Summary::default()
    };
    let mut current: Option<(Partition, bool)> = None;
    let (mut keys, mut bytes) = (0u64, 0u64);
    let mut to_verify: Vec<(Partition, Digest)> = Vec::new();
    while let Some(block) = reader.next_block()? {
        match block {
            Block::PartitionBegin(name) => {
                let p = Partition::parse(&name).map_err(TransferError::backend(format!(
                    "partition name {name:?} in the dump"
                )))?;
                prepare(dst, &p, options.merge).await?;
                current = Some((p, false));
            }
            Block::Records(records) => {
                let Some((p, has_deadlines)) = current.as_mut() else {
                    continue;
                };
                for r in records {
                    keys += 1;
                    bytes += (r.key.len() + r.value.len()) as u64;
                    *has_deadlines |= r.deadline_ms != 0;
                    if sink.put(p, r.key, r.value, deadline_time(r.deadline_ms)) {
                        sink.flush().await?;
                    }
                }
                sink.flush().await?;
                let report = Progress {
                    phase: Phase::Restore,
                    partition: p.name().to_owned(),
                    keys,
                    bytes,
                    total_keys: None,
                };
                if let ControlFlow::Break(()) = progress(&report) {
                    return Err(TransferError::Interrupted);
                }
            }
            Block::PartitionEnd(digest) => {
                if let Some((p, has_deadlines)) = current.take() {
                    summary.partitions.push((p.name().to_owned(), digest));
                    if has_deadlines {
                        summary.verified = false;
                    } else {
                        to_verify.push((p, digest));
                    }
                }
            }
        }
    }
    dst.flush()
        .await
        .map_err(TransferError::backend(format!("flushing {}", dst.name())))?;
    summary.extra = sink.expired;
    summary.warnings.extend(sink.warning());
    if options.verify {
        let mut done = 0u64;
        for (p, expected) in to_verify {
            let found = digest_partition(dst, &p, |n| {
                done += n;
                let _ = progress(&Progress {
                    phase: Phase::Verify,
                    partition: p.name().to_owned(),
                    keys: done,
                    bytes: 0,
                    total_keys: Some(keys),
                });
            })
            .await?;
            if found != expected {
                return Err(mismatch(&p, &expected, &found));
            }
        }
    }
    Ok(summary)
}

/// Creates `p` in `dst`; unless `merge`, refuses it when it already holds keys.
pub(crate) async fn prepare(dst: &dyn StorageBackend, p: &Partition, merge: bool) -> Result<()> {
    let context = || format!("creating partition {} in {}", p.name(), dst.name());
    dst.create_partition(p)
        .await
        .map_err(TransferError::backend(context()))?;
    if !merge
        && !dst
            .is_empty(p)
            .await
            .map_err(TransferError::backend(context()))?
    {
        let keys = dst
            .len(p)
            .await
            .map_err(TransferError::backend(context()))?;
        return Err(TransferError::NotEmpty {
            partition: p.name().to_owned(),
            keys,
        });
    }
    Ok(())
}

pub(crate) fn mismatch(p: &Partition, src: &Digest, dst: &Digest) -> TransferError {
    TransferError::Mismatch {
        partition: p.name().to_owned(),
        src_keys: src.keys,
        dst_keys: dst.keys,
        src_digest: src.hex(),
        dst_digest: dst.hex(),
    }
}
