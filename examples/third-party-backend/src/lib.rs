//! `SortedVecBackend`: a small in-memory backend written against the public
//! `backend-api` crate only, to show how a third party implements `StorageBackend`.
//!
//! Each partition is a `Vec` of pairs kept sorted, behind one mutex. Scans are lazy: the
//! stream holds a cursor and finds its next key under the lock on every poll, so memory
//! stays bounded whatever the range. CAS, conditional batches, range deletes, watch and
//! TTL are not offered: their capabilities are false and the trait's default bodies (or
//! `Capabilities::check_operation`, for a range delete inside a batch) answer
//! `Error::Unsupported`, which the conformance battery checks.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use backend_api::{
    Bytes, Capabilities, Error, KvStream, Operation, Partition, Result, ScanRange, Status,
    StorageBackend, Stream, async_trait,
};

type Pairs = Vec<(Bytes, Bytes)>;

/// One partition's pairs, with an id unique per creation: a scan remembers the id, so
/// it ends rather than read a partition dropped and created again under its feet.
#[derive(Default)]
struct Part {
    id: u64,
    pairs: Pairs,
}

type Partitions = BTreeMap<Partition, Part>;

/// An in-memory backend of sorted vectors. Not persistent.
#[derive(Default)]
pub struct SortedVecBackend {
    partitions: Arc<Mutex<Partitions>>,
    closed: AtomicBool,
    next_id: AtomicU64,
}

impl SortedVecBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Closed` after `close()`: checked before any argument, as the contract's error
    /// order says (`Closed`, then argument errors, then `PartitionNotFound`).
    fn open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Partitions>> {
        self.open()?;
        Ok(lock(&self.partitions))
    }
}

fn lock(partitions: &Mutex<Partitions>) -> MutexGuard<'_, Partitions> {
    // A panic while holding the lock cannot leave a half-sorted vector: every mutation
    // is a single insert or remove, so the data is still valid.
    partitions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pairs<'a>(partitions: &'a mut Partitions, p: &Partition) -> Result<&'a mut Pairs> {
    partitions
        .get_mut(p)
        .map(|part| &mut part.pairs)
        .ok_or_else(|| Error::PartitionNotFound(p.name().to_owned()))
}

fn find(pairs: &Pairs, key: &[u8]) -> Option<Bytes> {
    pairs
        .binary_search_by(|(k, _)| k[..].cmp(key))
        .ok()
        .map(|i| pairs[i].1.clone())
}

fn apply(pairs: &mut Pairs, key: &[u8], value: Option<Bytes>) {
    match (pairs.binary_search_by(|(k, _)| k[..].cmp(key)), value) {
        (Ok(i), Some(v)) => pairs[i].1 = v,
        (Err(i), Some(v)) => pairs.insert(i, (Bytes::copy_from_slice(key), v)),
        (Ok(i), None) => {
            pairs.remove(i);
        }
        (Err(_), None) => {}
    }
}

#[async_trait]
impl StorageBackend for SortedVecBackend {
    fn name(&self) -> &'static str {
        "sorted-vec"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            atomic_batch: true,
            cross_partition_batch: true,
            exact_len: true,
            ..Capabilities::default()
        }
    }

    async fn create_partition(&self, p: &Partition) -> Result<()> {
        let mut partitions = self.lock()?;
        if !partitions.contains_key(p) {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            partitions.insert(
                p.clone(),
                Part {
                    id,
                    pairs: Vec::new(),
                },
            );
        }
        Ok(())
    }

    async fn drop_partition(&self, p: &Partition) -> Result<()> {
        match self.lock()?.remove(p) {
            Some(_) => Ok(()),
            None => Err(Error::PartitionNotFound(p.name().to_owned())),
        }
    }

    async fn partition_exists(&self, p: &Partition) -> Result<bool> {
        Ok(self.lock()?.contains_key(p))
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        Ok(self.lock()?.keys().cloned().collect())
    }

    async fn get(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.open()?;
        self.capabilities().check_key(key)?;
        let mut partitions = self.lock()?;
        Ok(find(pairs(&mut partitions, p)?, key))
    }

    async fn get_many(&self, p: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        // Not the default loop of `get`: an empty key list must still answer `Closed`
        // and `PartitionNotFound`.
        self.open()?;
        let caps = self.capabilities();
        keys.iter().try_for_each(|k| caps.check_key(k))?;
        let mut partitions = self.lock()?;
        let pairs = pairs(&mut partitions, p)?;
        Ok(keys.iter().map(|k| find(pairs, k)).collect())
    }

    async fn put(&self, p: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        self.open()?;
        let caps = self.capabilities();
        caps.check_key(key)?;
        caps.check_value(value)?;
        let mut partitions = self.lock()?;
        apply(
            pairs(&mut partitions, p)?,
            key,
            Some(Bytes::copy_from_slice(value)),
        );
        Ok(())
    }

    async fn delete(&self, p: &Partition, key: &[u8]) -> Result<()> {
        self.open()?;
        self.capabilities().check_key(key)?;
        let mut partitions = self.lock()?;
        apply(pairs(&mut partitions, p)?, key, None);
        Ok(())
    }

    async fn scan(&self, p: &Partition, range: ScanRange) -> Result<KvStream> {
        self.open()?;
        self.capabilities().check_scan_range(&range)?;
        let part_id = self
            .lock()?
            .get(p)
            .map(|part| part.id)
            .ok_or_else(|| Error::PartitionNotFound(p.name().to_owned()))?;
        Ok(Box::pin(Cursor {
            partitions: self.partitions.clone(),
            partition: p.clone(),
            part_id,
            last: None,
            left: if range.is_empty() {
                0
            } else {
                range.limit.unwrap_or(usize::MAX)
            },
            range,
        }))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        // The contract's error order: closed, then every op's arguments in order (a
        // range delete answers `Unsupported` here: `range_delete` is false), then every
        // op's partition; only then the first write.
        self.open()?;
        let caps = self.capabilities();
        for op in &operations {
            caps.check_operation(op, self.name())?;
        }
        let mut partitions = self.lock()?;
        for op in &operations {
            pairs(&mut partitions, op.partition())?;
        }
        for op in operations {
            match op {
                Operation::Put {
                    partition,
                    key,
                    value,
                    ..
                } => apply(pairs(&mut partitions, &partition)?, &key, Some(value)),
                Operation::Delete { partition, key } => {
                    apply(pairs(&mut partitions, &partition)?, &key, None)
                }
                // Kinds this backend does not offer were refused by check_operation.
                _ => {}
            }
        }
        Ok(())
    }

    async fn partition_size(&self, p: &Partition) -> Result<u64> {
        let mut partitions = self.lock()?;
        let pairs = pairs(&mut partitions, p)?;
        Ok(pairs.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum())
    }

    async fn len(&self, p: &Partition) -> Result<u64> {
        Ok(pairs(&mut *self.lock()?, p)?.len() as u64)
    }

    async fn flush(&self) -> Result<()> {
        self.lock().map(drop)
    }

    async fn status(&self) -> Result<Status> {
        let partitions = self.lock()?;
        let keys: usize = partitions.values().map(|part| part.pairs.len()).sum();
        Ok(Status::from([
            ("partitions".to_owned(), partitions.len().to_string()),
            ("keys".to_owned(), keys.to_string()),
        ]))
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// A lazy scan: remembers the last key it yielded and finds the next one per poll.
struct Cursor {
    partitions: Arc<Mutex<Partitions>>,
    partition: Partition,
    part_id: u64,
    range: ScanRange,
    last: Option<Bytes>,
    left: usize,
}

impl Cursor {
    fn advance(&mut self) -> Option<(Bytes, Bytes)> {
        let partitions = lock(&self.partitions);
        // A partition dropped mid-scan (even if created again since) ends the scan.
        let pairs = &partitions
            .get(&self.partition)
            .filter(|part| part.id == self.part_id)?
            .pairs;
        let position = |key: &[u8]| pairs.partition_point(|(k, _)| &k[..] < key);
        let index = if self.range.reverse {
            let end = match (&self.last, self.range.upper()) {
                (Some(last), _) => position(last),
                (None, Some(upper)) => position(&upper),
                (None, None) => pairs.len(),
            };
            end.checked_sub(1)?
        } else {
            match (&self.last, self.range.lower()) {
                (Some(last), _) => pairs.partition_point(|(k, _)| k <= last),
                (None, Some(lower)) => position(&lower),
                (None, None) => 0,
            }
        };
        let (key, value) = pairs.get(index)?;
        if !self.range.contains(key) {
            return None;
        }
        let value = if self.range.keys_only {
            Bytes::new()
        } else {
            value.clone()
        };
        Some((key.clone(), value))
    }
}

impl Stream for Cursor {
    type Item = Result<(Bytes, Bytes)>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let next = self.advance();
        match next {
            Some((key, value)) => {
                self.left -= 1;
                self.last = Some(key.clone());
                Poll::Ready(Some(Ok((key, value))))
            }
            None => {
                self.left = 0;
                Poll::Ready(None)
            }
        }
    }
}
