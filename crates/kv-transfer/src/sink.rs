//! Batched writes into a destination backend.

use std::time::SystemTime;

use backend_api::{Error, Operation, Partition, PutOptions, StorageBackend};
use bytes::Bytes;

use crate::{Result, TransferError};

/// Writes puts in batches of at most `batch_keys` pairs / `batch_bytes` bytes, through
/// `batch` when the backend has it and one `put_with` each otherwise.
pub(crate) struct Sink<'a> {
    dst: &'a dyn StorageBackend,
    ops: Vec<Operation>,
    bytes: usize,
    batch_keys: usize,
    batch_bytes: usize,
    /// `None` until the first batch answers: only that one is kept for a fallback.
    has_batch: Option<bool>,
    /// The destination honours TTLs.
    ttl: bool,
    /// Pairs skipped because their deadline had passed.
    pub expired: u64,
    /// A deadline was dropped because the destination has no TTL.
    pub ttl_dropped: bool,
}

impl<'a> Sink<'a> {
    pub fn new(dst: &'a dyn StorageBackend, batch_keys: usize, batch_bytes: usize) -> Self {
        Sink {
            dst,
            ops: Vec::with_capacity(batch_keys.clamp(1, 65_536)),
            bytes: 0,
            batch_keys: batch_keys.max(1),
            batch_bytes: batch_bytes.max(1),
            has_batch: None,
            ttl: dst.capabilities().ttl,
            expired: 0,
            ttl_dropped: false,
        }
    }

    /// Adds a put that expires at `expires_at` (`None`: never); true when the batch is
    /// full and should be [`flush`](Self::flush)ed.
    ///
    /// A deadline already past skips the pair (counted in `expired`). A destination
    /// without `ttl` gets the pair without its deadline, and `ttl_dropped` says so.
    pub fn put(
        &mut self,
        p: &Partition,
        key: Bytes,
        value: Bytes,
        expires_at: Option<SystemTime>,
    ) -> bool {
        let options = match expires_at {
            None => PutOptions::default(),
            Some(t) if t <= SystemTime::now() => {
                self.expired += 1;
                return false;
            }
            Some(_) if !self.ttl => {
                self.ttl_dropped = true;
                PutOptions::default()
            }
            Some(t) => PutOptions::expires_at(t),
        };
        self.bytes += key.len() + value.len();
        self.ops.push(Operation::put_with(p, key, value, options));
        self.ops.len() >= self.batch_keys || self.bytes >= self.batch_bytes
    }

    /// The warning for what [`put`](Self::put) had to drop, if anything.
    pub fn warning(&self) -> Option<String> {
        self.ttl_dropped.then(|| {
            format!(
                "{} has no TTL: keys with a deadline were written as permanent keys",
                self.dst.name()
            )
        })
    }

    /// Writes what is waiting.
    pub async fn flush(&mut self) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut self.ops);
        self.bytes = 0;
        let (n, name) = (ops.len(), self.dst.name());
        let context = move || format!("writing a batch of {n} pairs to {name}");
        match self.has_batch {
            Some(true) => {
                return self
                    .dst
                    .batch(ops)
                    .await
                    .map_err(TransferError::backend(context()));
            }
            None => match self.dst.batch(ops.clone()).await {
                Ok(()) => {
                    self.has_batch = Some(true);
                    return Ok(());
                }
                Err(Error::Unsupported { .. }) => self.has_batch = Some(false),
                Err(e) => return Err(TransferError::backend(context())(e)),
            },
            Some(false) => {}
        }
        for op in ops {
            if let Operation::Put {
                partition,
                key,
                value,
                options,
            } = op
            {
                self.dst
                    .put_with(&partition, &key, &value, options)
                    .await
                    .map_err(TransferError::backend(format!(
                        "writing to {}",
                        self.dst.name()
                    )))?;
            }
        }
        Ok(())
    }
}
