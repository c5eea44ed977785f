//! The indexed store: objects and their index entries, written together.

use std::collections::BTreeSet;
use std::sync::Arc;

use backend_api::{
    BatchOutcome, Capabilities, Check, Error, Operation, Partition, Result, ScanRange,
    StorageBackend,
};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use super::entry::{IndexEntry, IndexSpec, apply_specs, encode_set};
use super::query::{Continuation, Hit, Page, Query};
use super::record::Record;
use super::term::{Term, corrupt};
use crate::partitions::layer_partition;

/// Derives an object's index entries from its value (see
/// [`IndexedStore::with_extractor`]).
pub type Extractor = Arc<dyn Fn(&[u8]) -> Vec<IndexEntry> + Send + Sync>;

/// A stream of query results, produced lazily from one backend scan.
pub type HitStream = BoxStream<'static, Result<Hit>>;

/// Objects with Riak-style secondary indexes, over any backend with
/// `conditional_batch` and `ordered_scan`.
///
/// Two partitions per bucket: `<bucket>` maps each key to a record of its index entries
/// and value ([`record`](super::record)), `<bucket>_2i` holds one empty-valued key per
/// index entry ([`term`](super::term) gives the byte layout). Every write reads the
/// object's record, then applies the new record plus the index keys to add and remove
/// as one [`conditional_batch`](StorageBackend::conditional_batch) whose check is that
/// the record is still the one read; on a failed check it retries from what the check
/// found. So concurrent writers of one object serialise, and the index always matches
/// the stored objects: no stale entry, no missing one.
#[derive(Clone)]
pub struct IndexedStore {
    backend: Arc<dyn StorageBackend>,
    objects: Partition,
    index: Partition,
    caps: Capabilities,
    extractor: Option<Extractor>,
}

impl IndexedStore {
    /// Opens (creating if needed) the indexed bucket `bucket` (1 to 61 characters of
    /// `[A-Za-z0-9_]`). [`Error::Unsupported`] unless the backend offers
    /// `conditional_batch` and `ordered_scan`.
    pub async fn open(backend: Arc<dyn StorageBackend>, bucket: &str) -> Result<Self> {
        let caps = backend.capabilities();
        if !caps.conditional_batch {
            return Err(Error::unsupported(
                backend.name(),
                "secondary indexes (they need conditional_batch)",
            ));
        }
        if !caps.ordered_scan {
            return Err(Error::unsupported(
                backend.name(),
                "secondary indexes (they need ordered_scan)",
            ));
        }
        let objects = layer_partition(bucket, "")?;
        let index = layer_partition(bucket, "_2i")?;
        backend.create_partition(&objects).await?;
        backend.create_partition(&index).await?;
        Ok(IndexedStore {
            backend,
            objects,
            index,
            caps,
            extractor: None,
        })
    }

    /// Derive the entries of every [`put`](Self::put) from its value with `extractor`.
    pub fn with_extractor(
        mut self,
        extractor: impl Fn(&[u8]) -> Vec<IndexEntry> + Send + Sync + 'static,
    ) -> Self {
        self.extractor = Some(Arc::new(extractor));
        self
    }

    /// The backend underneath.
    pub fn backend(&self) -> &Arc<dyn StorageBackend> {
        &self.backend
    }

    /// Stores `value` under `key` with the entries the extractor derives from it (none
    /// without an extractor), replacing the object's previous entries.
    pub async fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let entries = self.extractor.as_ref().map_or_else(Vec::new, |f| f(value));
        self.put_entries(key, value, &entries).await
    }

    /// Stores `value` under `key` with exactly `entries` as its index entries.
    pub async fn put_entries(
        &self,
        key: &[u8],
        value: &[u8],
        entries: &[IndexEntry],
    ) -> Result<()> {
        let next = encode_set(entries);
        self.update(key, |_| Some((value, next.clone()))).await
    }

    /// Riak's `put(Bucket, Key, IndexSpecs, Val)`: stores `value` and applies `specs` in
    /// order to the object's current entries.
    pub async fn put_specs(&self, key: &[u8], value: &[u8], specs: &[IndexSpec]) -> Result<()> {
        self.update(key, |current| {
            let empty = BTreeSet::new();
            let base = current.map_or(&empty, |r| &r.entries);
            Some((value, apply_specs(base, specs)))
        })
        .await
    }

    /// Removes the object and every one of its index entries; a missing key is Ok.
    pub async fn delete(&self, key: &[u8]) -> Result<()> {
        self.update(key, |_| None).await
    }

    /// The object's value, or `None`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_with_entries(key).await?.map(|(value, _)| value))
    }

    /// The object's value and index entries, or `None`.
    pub async fn get_with_entries(&self, key: &[u8]) -> Result<Option<(Bytes, Vec<IndexEntry>)>> {
        let Some(stored) = self.backend.get(&self.objects, key).await? else {
            return Ok(None);
        };
        let record = Record::decode(&stored)?;
        let entries = record
            .entries
            .iter()
            .map(|e| match IndexEntry::decode(e)? {
                (entry, []) => Ok(entry),
                _ => Err(corrupt("an object record entry with trailing bytes")),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((record.value, entries)))
    }

    /// One page of results: at most [`Query::max_results`] hits (all of them without
    /// it), and a continuation when more follow.
    pub async fn query(&self, query: &Query) -> Result<Page> {
        let mut stream = self
            .query_stream_limited(query, query.page_size().map(|n| n + 1))
            .await?;
        let mut page = Page::default();
        let mut last_storage_key = None;
        while let Some(item) = stream.next().await {
            let (hit, storage_key) = item?;
            if query.page_size() == Some(page.hits.len()) {
                page.continuation =
                    last_storage_key.map(|k: Bytes| Continuation::after(&k, query.is_key_query()));
                break;
            }
            page.hits.push(hit);
            last_storage_key = Some(storage_key);
        }
        Ok(page)
    }

    /// Every result (up to [`Query::max_results`]) as a stream, in bounded memory
    /// whatever the result size: one backend scan, decoded as it goes.
    pub async fn query_stream(&self, query: &Query) -> Result<HitStream> {
        let stream = self.query_stream_limited(query, query.page_size()).await?;
        Ok(stream.map_ok(|(hit, _)| hit).boxed())
    }

    async fn query_stream_limited(
        &self,
        query: &Query,
        limit: Option<usize>,
    ) -> Result<BoxStream<'static, Result<(Hit, Bytes)>>> {
        let Some((start, end)) = query.scan_bounds(self.caps.max_key_len)? else {
            return Ok(futures_util::stream::empty().boxed());
        };
        let mut range = ScanRange::all().keys_only();
        range.start = start;
        range.end = end;
        range.limit = limit;
        let (partition, key_query) = if query.is_key_query() {
            (&self.objects, true)
        } else {
            (&self.index, false)
        };
        let prefix = query.field_prefix();
        let terms = query.returns_terms();
        let scan = self.backend.scan(partition, range).await?;
        Ok(scan
            .map(move |item| {
                let (storage_key, _) = item?;
                let hit = if key_query {
                    Hit {
                        term: terms.then(|| Term::Bin(storage_key.clone())),
                        key: storage_key.clone(),
                    }
                } else {
                    decode_hit(&storage_key, &prefix, terms)?
                };
                Ok((hit, storage_key))
            })
            .boxed())
    }

    /// The read-compute-conditional-write loop behind every write. `next` maps the
    /// current record (`None`: absent) to the new value and entries (`None`: delete).
    async fn update<'v>(
        &self,
        key: &[u8],
        next: impl Fn(Option<&Record>) -> Option<(&'v [u8], BTreeSet<Bytes>)>,
    ) -> Result<()> {
        self.caps.check_key(key)?;
        let mut stored = self.backend.get(&self.objects, key).await?;
        loop {
            let current = stored.as_ref().map(Record::decode).transpose()?;
            let target = next(current.as_ref());
            let empty = BTreeSet::new();
            let old = current.as_ref().map_or(&empty, |r| &r.entries);
            let mut ops = Vec::new();
            let new = match &target {
                Some((value, entries)) => {
                    let record = Record::encode(entries, value);
                    self.caps.check_value(&record)?;
                    ops.push(Operation::put(
                        &self.objects,
                        Bytes::copy_from_slice(key),
                        record,
                    ));
                    entries
                }
                None if stored.is_none() => return Ok(()),
                None => {
                    ops.push(Operation::delete(
                        &self.objects,
                        Bytes::copy_from_slice(key),
                    ));
                    &empty
                }
            };
            for gone in old.difference(new) {
                ops.push(Operation::delete(&self.index, self.index_key(gone, key)?));
            }
            for added in new.difference(old) {
                ops.push(Operation::put(
                    &self.index,
                    self.index_key(added, key)?,
                    Bytes::new(),
                ));
            }
            let check = Check::new(&self.objects, Bytes::copy_from_slice(key), stored.clone());
            match self.backend.conditional_batch(vec![check], ops).await? {
                BatchOutcome::CheckFailed { current, .. } => stored = current,
                _ => return Ok(()),
            }
        }
    }

    /// `entry | key`, checked against the backend's key limit.
    fn index_key(&self, entry: &Bytes, key: &[u8]) -> Result<Bytes> {
        let mut out = BytesMut::with_capacity(entry.len() + key.len());
        out.extend_from_slice(entry);
        out.extend_from_slice(key);
        if out.len() > self.caps.max_key_len {
            return Err(Error::InvalidKey {
                reason: format!(
                    "index entry plus object key is {} bytes, the backend's key limit is {}; \
                     use shorter fields, terms or keys",
                    out.len(),
                    self.caps.max_key_len
                ),
            });
        }
        Ok(out.freeze())
    }
}

/// Splits an index key of the queried field into its hit.
fn decode_hit(storage_key: &Bytes, prefix: &[u8], terms: bool) -> Result<Hit> {
    let rest = storage_key
        .strip_prefix(prefix)
        .ok_or_else(|| corrupt("an index key outside the queried field"))?;
    let (term, key) = Term::decode(rest)?;
    if key.is_empty() {
        return Err(corrupt("an index key without an object key"));
    }
    Ok(Hit {
        term: terms.then_some(term),
        key: storage_key.slice_ref(key),
    })
}
