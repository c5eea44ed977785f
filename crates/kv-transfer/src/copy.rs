//! Copy every pair of one backend into another: streamed, batched, resumable, verified.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use backend_api::{Entry, Partition, ScanRange, StorageBackend};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::checkpoint::{Checkpoint, Mark};
use crate::digest::{Digest, digest_live, digest_partition};
use crate::dump::{mismatch, prepare};
use crate::progress::{OnProgress, Phase, Progress};
use crate::sink::Sink;
use crate::source::{entries, scan_context};
use crate::{Result, TransferError, partitions};

/// How to copy.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Only these partitions; `None`: every partition of the source.
    pub partitions: Option<Vec<Partition>>,
    /// Pairs per batch written. Default 1000.
    pub batch_keys: usize,
    /// Bytes per batch written. Default 4 MiB.
    pub batch_bytes: usize,
    /// Resume from / save progress to this file. After every batch the destination is
    /// flushed and the file replaced, so a copy killed at any moment and run again
    /// redoes at most the one batch in flight. Removed once the copy is verified.
    pub checkpoint: Option<PathBuf>,
    /// Identifies this copy in its checkpoint (e.g. the two URLs); a checkpoint with
    /// another tag is refused.
    pub tag: String,
    /// Write into destination partitions that already hold keys. Default false.
    pub merge: bool,
    /// Compare every partition's count and digest on both sides at the end. Default
    /// true.
    pub verify: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            partitions: None,
            batch_keys: 1000,
            batch_bytes: 4 << 20,
            checkpoint: None,
            tag: String::new(),
            merge: false,
            verify: true,
        }
    }
}

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Pairs written by this run.
    pub keys: u64,
    /// Key and value bytes written by this run.
    pub bytes: u64,
    /// Batches written by this run.
    pub batches: u64,
    /// Partitions covered (copied, resumed or skipped).
    pub partitions: usize,
    /// Partitions found complete in the checkpoint and skipped.
    pub skipped: Vec<String>,
    /// Each partition's digest, equal on both sides (when verified).
    pub verified: Vec<(String, Digest)>,
    /// Pairs not written because their deadline had passed when they were read.
    pub expired: u64,
    /// What could not be carried as asked, one line each (a source that cannot report
    /// TTLs, a destination without TTL): the copy went on without it.
    pub warnings: Vec<String>,
}

/// How far ahead of the check a deadline must lie for its key to be compared: keys
/// that expire sooner may legitimately be gone on one side and not the other.
pub const VERIFY_HORIZON: Duration = Duration::from_secs(300);

/// Copies `src` into `dst`, one partition at a time: one ascending scan per partition
/// feeds batches (of `batch_keys` pairs) to the destination while the next batch is
/// read, so memory holds at most three batches.
///
/// **What a copy of a live store guarantees.** Every key present in the source for the
/// whole copy and not written during it arrives with its value. Under `snapshot_scan`
/// (RocksDB) an uninterrupted partition is copied as of one moment; otherwise, and
/// across partitions or a resume, each key's value is the one it held at some moment
/// during the copy, and keys written or deleted during the copy may or may not arrive.
/// Deletes are never propagated. The final verification reads the source again, so it
/// reports any write made during the copy as a mismatch.
///
/// **TTLs** arrive as absolute deadlines (read with
/// [`StorageBackend::scan_entries`], written with `PutOptions::expires_at`); a key whose
/// deadline passed before it was written is skipped (`expired`). A source answering
/// `Unsupported` is copied without deadlines and a destination without `ttl` gets
/// permanent keys, each with a line in `warnings`. A partition that held keys with
/// deadlines is verified over the keys that outlive the check by [`VERIFY_HORIZON`]
/// on both sides (the digests then name only those keys).
pub async fn copy(
    src: &dyn StorageBackend,
    dst: &dyn StorageBackend,
    options: &CopyOptions,
    progress: OnProgress<'_>,
) -> Result<CopyReport> {
    let mut cp = match &options.checkpoint {
        Some(path) => match Checkpoint::load(path)? {
            Some(cp) if cp.tag != options.tag => {
                return Err(TransferError::Checkpoint {
                    path: path.clone(),
                    detail: format!(
                        "it belongs to another copy ({}); delete it or pass the same source and destination",
                        cp.tag
                    ),
                });
            }
            Some(cp) => cp,
            None => Checkpoint {
                tag: options.tag.clone(),
                ..Checkpoint::default()
            },
        },
        None => Checkpoint::default(),
    };
    let parts = partitions::select(src, options.partitions.as_deref()).await?;
    for p in &parts {
        let started = cp.marks.contains_key(p.name());
        prepare(dst, p, options.merge || started).await?;
    }
    let total_keys = partitions::total(src, &parts).await?;
    let mut report = CopyReport {
        partitions: parts.len(),
        ..CopyReport::default()
    };
    let mut state = Run {
        report: &mut report,
        cp: &mut cp,
        options,
        progress,
        total_keys,
    };
    let mut sink = Sink::new(dst, usize::MAX, usize::MAX);
    let mut with_deadlines = Vec::new();
    for p in &parts {
        let resume = match state.cp.marks.get(p.name()) {
            Some(Mark::Done(_)) => {
                state.report.skipped.push(p.name().to_owned());
                continue;
            }
            Some(Mark::At(n, key)) => Some((*n, key.clone())),
            None => None,
        };
        if copy_partition(src, dst, p, resume, &mut sink, &mut state).await? {
            with_deadlines.push(p.clone());
        }
    }
    state.report.expired = sink.expired;
    state.report.warnings.extend(sink.warning());
    dst.flush()
        .await
        .map_err(TransferError::backend(format!("flushing {}", dst.name())))?;
    if options.verify {
        let mut done = 0u64;
        for p in &parts {
            let mut tick = |n| {
                done += n;
                let _ = (state.progress)(&Progress {
                    phase: Phase::Verify,
                    partition: p.name().to_owned(),
                    keys: done,
                    bytes: 0,
                    total_keys: total_keys.map(|t| t * 2),
                });
            };
            let (a, b) = if with_deadlines.contains(p) {
                let cutoff = SystemTime::now() + VERIFY_HORIZON;
                let a = digest_live(src, p, cutoff, &mut tick).await?;
                (a, digest_live(dst, p, cutoff, &mut tick).await?)
            } else {
                let a = digest_partition(src, p, &mut tick).await?;
                (a, digest_partition(dst, p, &mut tick).await?)
            };
            if a != b {
                return Err(mismatch(p, &a, &b));
            }
            state.report.verified.push((p.name().to_owned(), a));
        }
        if let Some(path) = &options.checkpoint {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(report)
}

struct Run<'r, 'p> {
    report: &'r mut CopyReport,
    cp: &'r mut Checkpoint,
    options: &'r CopyOptions,
    progress: OnProgress<'p>,
    total_keys: Option<u64>,
}

type Batch = Vec<Entry>;

/// Copies one partition; true when some key carried a deadline.
async fn copy_partition(
    src: &dyn StorageBackend,
    dst: &dyn StorageBackend,
    p: &Partition,
    resume: Option<(u64, Bytes)>,
    sink: &mut Sink<'_>,
    run: &mut Run<'_, '_>,
) -> Result<bool> {
    let (tx, mut rx) = mpsc::channel::<Batch>(1);
    let batch_keys = run.options.batch_keys.max(1);
    let batch_bytes = run.options.batch_bytes.max(1);
    let after = resume.as_ref().map(|(_, k)| k.clone());
    let mut warnings = Vec::new();
    let found = &mut warnings;
    // Owns `tx`, so the writer's `recv` ends when the reader does.
    let reader = async move {
        let context = || scan_context(src, p);
        let range = match &after {
            Some(k) => ScanRange::all().start(k.clone()),
            None => ScanRange::all(),
        };
        let mut stream = entries(src, p, range, found).await?;
        let mut batch = Vec::with_capacity(batch_keys.min(65_536));
        let mut bytes = 0;
        while let Some(item) = stream.next().await {
            let entry = item.map_err(TransferError::backend(context()))?;
            if after.as_ref() == Some(&entry.key) {
                continue;
            }
            bytes += entry.key.len() + entry.value.len();
            batch.push(entry);
            if batch.len() >= batch_keys || bytes >= batch_bytes {
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    return Ok(());
                }
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(batch).await;
        }
        Ok::<(), TransferError>(())
    };
    let mut copied = resume.as_ref().map_or(0, |(n, _)| *n);
    let mut deadlines = false;
    let writer = async {
        while let Some(batch) = rx.recv().await {
            let last = batch.last().map(|e| e.key.clone());
            let n = batch.len() as u64;
            let mut written = 0;
            for entry in batch {
                deadlines |= entry.expires_at.is_some();
                let (size, expired) = (entry.key.len() + entry.value.len(), sink.expired);
                sink.put(p, entry.key, entry.value, entry.expires_at);
                if sink.expired == expired {
                    written += 1;
                    run.report.bytes += size as u64;
                }
            }
            sink.flush().await?;
            copied += n;
            run.report.keys += written;
            run.report.batches += 1;
            if let (Some(path), Some(last)) = (&run.options.checkpoint, last) {
                dst.flush()
                    .await
                    .map_err(TransferError::backend(format!("flushing {}", dst.name())))?;
                run.cp
                    .marks
                    .insert(p.name().to_owned(), Mark::At(copied, last));
                run.cp.save(path)?;
            }
            let report = Progress {
                phase: Phase::Copy,
                partition: p.name().to_owned(),
                keys: run.report.keys,
                bytes: run.report.bytes,
                total_keys: run.total_keys,
            };
            if let ControlFlow::Break(()) = (run.progress)(&report) {
                return Err(TransferError::Interrupted);
            }
        }
        Ok::<(), TransferError>(())
    };
    futures_util::future::try_join(reader, writer).await?;
    for warning in warnings {
        if !run.report.warnings.contains(&warning) {
            run.report.warnings.push(warning);
        }
    }
    if let Some(path) = &run.options.checkpoint {
        dst.flush()
            .await
            .map_err(TransferError::backend(format!("flushing {}", dst.name())))?;
        run.cp.marks.insert(p.name().to_owned(), Mark::Done(copied));
        run.cp.save(path)?;
    }
    Ok(deadlines)
}
