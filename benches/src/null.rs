//! A backend that stores nothing and says yes to everything (Riak's "yessir" backend):
//! measured through the trait like the real ones, it shows what the harness itself costs.

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, KvStream, Operation, Partition, Result,
    ScanRange, Status, StorageBackend,
};

/// Items a scan of the null backend yields at most, whatever its limit.
pub const NULL_SCAN_CAP: usize = 1 << 20;

/// The value every `get` of [`NullBackend`] answers.
pub const NULL_VALUE: &[u8] = &[0x5a; 100];

/// Stores nothing. Writes succeed and are forgotten; `get` answers [`NULL_VALUE`] for any
/// key; a scan yields `limit` (at most [`NULL_SCAN_CAP`]) copies of one fixed pair; CAS
/// always swaps. Never answers `Closed`: it keeps no state to close.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullBackend;

#[async_trait::async_trait]
impl StorageBackend for NullBackend {
    fn name(&self) -> &'static str {
        "null"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            atomic_batch: true,
            cross_partition_batch: true,
            compare_and_swap: true,
            conditional_batch: true,
            range_delete: true,
            ..Capabilities::default()
        }
    }

    async fn create_partition(&self, _partition: &Partition) -> Result<()> {
        Ok(())
    }

    async fn drop_partition(&self, _partition: &Partition) -> Result<()> {
        Ok(())
    }

    async fn partition_exists(&self, _partition: &Partition) -> Result<bool> {
        Ok(true)
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        Ok(Vec::new())
    }

    async fn get(&self, _partition: &Partition, _key: &[u8]) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::from_static(NULL_VALUE)))
    }

    async fn get_many(&self, _partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        Ok(vec![Some(Bytes::from_static(NULL_VALUE)); keys.len()])
    }

    async fn put(&self, _partition: &Partition, _key: &[u8], _value: &[u8]) -> Result<()> {
        Ok(())
    }

    async fn delete(&self, _partition: &Partition, _key: &[u8]) -> Result<()> {
        Ok(())
    }

    async fn scan(&self, _partition: &Partition, range: ScanRange) -> Result<KvStream> {
        let n = range.limit.unwrap_or(0).min(NULL_SCAN_CAP);
        let key = range.lower().unwrap_or_else(|| Bytes::from_static(b"k"));
        let item = (key, Bytes::from_static(NULL_VALUE));
        Ok(Box::pin(futures_util::stream::iter(
            std::iter::repeat_n(item, n).map(Ok),
        )))
    }

    async fn batch(&self, _operations: Vec<Operation>) -> Result<()> {
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        _partition: &Partition,
        _key: &[u8],
        _expected: Option<&[u8]>,
        _new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        Ok(CasOutcome::Swapped)
    }

    async fn conditional_batch(
        &self,
        _checks: Vec<Check>,
        _operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        Ok(BatchOutcome::Applied)
    }

    async fn partition_size(&self, _partition: &Partition) -> Result<u64> {
        Ok(0)
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    async fn status(&self) -> Result<Status> {
        Ok(Status::new())
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
