//! [`SortedVecBackend`] and its [`StorageBackend`] implementation: the trait adapter,
//! checking each call in the contract's order before the store does the work.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use backend_api::{
    Bytes, Capabilities, Error, KvStream, Operation, Partition, Result, ScanRange, Status,
    StorageBackend, async_trait,
};

use crate::SortedVecConfig;
use crate::error::{NAME, not_found};
use crate::scan::Cursor;
use crate::store::{Part, Partitions, apply, find, lock, pairs};

/// An in-memory backend of sorted vectors. Not persistent.
pub struct SortedVecBackend {
    caps: Capabilities,
    partitions: Arc<Mutex<Partitions>>,
    closed: AtomicBool,
    next_id: AtomicU64,
}

impl SortedVecBackend {
    /// An empty backend with `config`.
    pub fn new(config: SortedVecConfig) -> Self {
        SortedVecBackend {
            caps: config.capabilities(),
            partitions: Arc::default(),
            closed: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
        }
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

#[async_trait]
impl StorageBackend for SortedVecBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
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
            None => Err(not_found(p)),
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
        self.caps.check_key(key)?;
        let mut partitions = self.lock()?;
        Ok(find(pairs(&mut partitions, p)?, key))
    }

    async fn get_many(&self, p: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        // Not the default loop of `get`: an empty key list must still answer `Closed`
        // and `PartitionNotFound`.
        self.open()?;
        keys.iter().try_for_each(|k| self.caps.check_key(k))?;
        let mut partitions = self.lock()?;
        let pairs = pairs(&mut partitions, p)?;
        Ok(keys.iter().map(|k| find(pairs, k)).collect())
    }

    async fn put(&self, p: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        self.open()?;
        self.caps.check_key(key)?;
        self.caps.check_value(value)?;
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
        self.caps.check_key(key)?;
        let mut partitions = self.lock()?;
        apply(pairs(&mut partitions, p)?, key, None);
        Ok(())
    }

    async fn scan(&self, p: &Partition, range: ScanRange) -> Result<KvStream> {
        self.open()?;
        self.caps.check_scan_range(&range)?;
        let part_id = self
            .lock()?
            .get(p)
            .map(|part| part.id)
            .ok_or_else(|| not_found(p))?;
        Ok(Box::pin(Cursor::new(
            self.partitions.clone(),
            p.clone(),
            part_id,
            range,
        )))
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        // The contract's error order: closed, then every op's arguments in order (a
        // range delete answers `Unsupported` here: `range_delete` is false), then every
        // op's partition; only then the first write.
        self.open()?;
        for op in &operations {
            self.caps.check_operation(op, NAME)?;
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
