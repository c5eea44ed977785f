//! The content digest of a partition: key count, bytes and a BLAKE3 hash of every pair
//! in key order. Two partitions with equal digests hold the same pairs.

use std::fmt;

use std::time::SystemTime;

use backend_api::{Partition, ScanRange, StorageBackend};
use futures_util::StreamExt;

use crate::source::scan_context;
use crate::{Result, TransferError};

/// What a partition holds, in 48 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Number of pairs.
    pub keys: u64,
    /// Sum of key and value lengths.
    pub bytes: u64,
    /// BLAKE3 over `u32 LE key length, key, u32 LE value length, value` for each pair
    /// in ascending key order.
    pub hash: [u8; 32],
}

impl Digest {
    /// The hash as 64 lower-case hex digits.
    pub fn hex(&self) -> String {
        crate::hex::encode(&self.hash)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} keys, {} bytes, blake3 {}",
            self.keys,
            self.bytes,
            self.hex()
        )
    }
}

/// Builds a [`Digest`] one pair at a time.
#[derive(Clone, Debug, Default)]
pub struct Digester {
    keys: u64,
    bytes: u64,
    hasher: blake3::Hasher,
}

impl Digester {
    /// An empty digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one pair (pairs must come in ascending key order).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        self.keys += 1;
        self.bytes += (key.len() + value.len()) as u64;
        self.hasher.update(&(key.len() as u32).to_le_bytes());
        self.hasher.update(key);
        self.hasher.update(&(value.len() as u32).to_le_bytes());
        self.hasher.update(value);
    }

    /// The digest of the pairs added so far.
    pub fn finish(&self) -> Digest {
        Digest {
            keys: self.keys,
            bytes: self.bytes,
            hash: *self.hasher.finalize().as_bytes(),
        }
    }
}

/// Scans all of `partition` in `backend` and digests it, calling `tick` with the
/// number of pairs read every 4096 pairs.
pub async fn digest_partition(
    backend: &dyn StorageBackend,
    partition: &Partition,
    mut tick: impl FnMut(u64),
) -> Result<Digest> {
    let context = || scan_context(backend, partition);
    let mut stream = backend
        .scan(partition, ScanRange::all())
        .await
        .map_err(TransferError::backend(context()))?;
    let mut digester = Digester::new();
    while let Some(item) = stream.next().await {
        let (key, value) = item.map_err(TransferError::backend(context()))?;
        digester.add(&key, &value);
        if digester.keys.is_multiple_of(4096) {
            tick(4096);
        }
    }
    tick(digester.keys % 4096);
    Ok(digester.finish())
}

/// [`digest_partition`] over the keys that outlive `cutoff`: keys without a deadline and
/// keys whose deadline lies after it (read with `scan_entries`; a backend that cannot
/// report deadlines is digested whole). Two stores holding the same keys with the same
/// deadlines agree, even while keys expiring before `cutoff` vanish from one of them.
pub async fn digest_live(
    backend: &dyn StorageBackend,
    partition: &Partition,
    cutoff: SystemTime,
    mut tick: impl FnMut(u64),
) -> Result<Digest> {
    let context = || scan_context(backend, partition);
    let mut stream =
        crate::source::entries(backend, partition, ScanRange::all(), &mut Vec::new()).await?;
    let mut digester = Digester::new();
    let mut read = 0u64;
    while let Some(item) = stream.next().await {
        let entry = item.map_err(TransferError::backend(context()))?;
        read += 1;
        if read.is_multiple_of(4096) {
            tick(4096);
        }
        if !entry.is_expired_at(cutoff) {
            digester.add(&entry.key, &entry.value);
        }
    }
    tick(read % 4096);
    Ok(digester.finish())
}
