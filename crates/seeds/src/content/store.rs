//! Irmin's append-only, content-addressed store.

use std::collections::BTreeMap;
use std::sync::Arc;

use backend_api::{Capabilities, Error, Operation, Partition, Result, StorageBackend};
use bytes::Bytes;

use super::hash::Hash;
use crate::partitions::layer_partition;

/// Values named by their BLAKE3 hash, in the partition `<name>_obj` (key: the 32 hash
/// bytes, value: the value's bytes as given).
///
/// Adds are idempotent: adding a value that is present writes nothing, and two
/// concurrent adds of one value can only both write the same bytes under the same key.
/// Every [`find`](Self::find) hashes what it read and answers [`Error::Corruption`] when
/// the bytes no longer match their name: wrong bytes are never returned. Needs nothing
/// beyond the plain trait (a batch add is one atomic batch where the backend has them).
#[derive(Clone)]
pub struct ContentStore {
    backend: Arc<dyn StorageBackend>,
    partition: Partition,
    caps: Capabilities,
}

impl ContentStore {
    /// Opens (creating if needed) the content store `name` (1 to 60 characters of
    /// `[A-Za-z0-9_]`).
    pub async fn open(backend: Arc<dyn StorageBackend>, name: &str) -> Result<Self> {
        let partition = layer_partition(name, "_obj")?;
        backend.create_partition(&partition).await?;
        let caps = backend.capabilities();
        Ok(ContentStore {
            backend,
            partition,
            caps,
        })
    }

    /// The partition holding the values (for tools and tests that look underneath).
    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// Stores `value` and returns its hash. A value already present is not written
    /// again. [`Error::InvalidValue`] when it exceeds the backend's value limit.
    pub async fn add(&self, value: &[u8]) -> Result<Hash> {
        self.caps.check_value(value)?;
        let hash = Hash::of(value);
        if !self
            .backend
            .exists(&self.partition, hash.as_bytes())
            .await?
        {
            self.backend
                .put(&self.partition, hash.as_bytes(), value)
                .await?;
        }
        Ok(hash)
    }

    /// Stores every value and returns their hashes, in order. One atomic batch under
    /// `atomic_batch` (each distinct value written once); one add per value otherwise.
    pub async fn add_batch<V: AsRef<[u8]>>(&self, values: &[V]) -> Result<Vec<Hash>> {
        for v in values {
            self.caps.check_value(v.as_ref())?;
        }
        let hashes: Vec<Hash> = values.iter().map(|v| Hash::of(v.as_ref())).collect();
        if !self.caps.atomic_batch {
            for v in values {
                self.add(v.as_ref()).await?;
            }
            return Ok(hashes);
        }
        let distinct: BTreeMap<&Hash, &[u8]> = hashes
            .iter()
            .zip(values)
            .map(|(h, v)| (h, v.as_ref()))
            .collect();
        let ops = distinct
            .into_iter()
            .map(|(h, v)| {
                Operation::put(
                    &self.partition,
                    Bytes::copy_from_slice(h.as_bytes()),
                    Bytes::copy_from_slice(v),
                )
            })
            .collect();
        self.backend.batch(ops).await?;
        Ok(hashes)
    }

    /// The value named `hash`, or `None`. [`Error::Corruption`] when the stored bytes
    /// do not hash to `hash`.
    pub async fn find(&self, hash: &Hash) -> Result<Option<Bytes>> {
        let Some(value) = self.backend.get(&self.partition, hash.as_bytes()).await? else {
            return Ok(None);
        };
        let found = Hash::of(&value);
        if found != *hash {
            return Err(Error::Corruption {
                detail: format!(
                    "content store {}: the value stored under {hash} hashes to {found} \
                     ({} bytes); the stored copy is damaged, restore it from a replica or backup",
                    self.partition,
                    value.len()
                ),
            });
        }
        Ok(Some(value))
    }

    /// True when a value named `hash` is stored (not verified; [`find`](Self::find)
    /// verifies).
    pub async fn mem(&self, hash: &Hash) -> Result<bool> {
        self.backend.exists(&self.partition, hash.as_bytes()).await
    }
}
