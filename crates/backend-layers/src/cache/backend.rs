//! The cache as a `StorageBackend`: reads look up, writes go through and update.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, EntryStream, KeyRange, KvStream,
    Operation, Partition, PutOptions, Result, ScanRange, Status, StorageBackend, WatchStream,
    async_trait,
};

use super::follow::Follower;
use super::state::{After, EntryKey, KeyRef, State};

/// A backend behind a read cache.
pub(crate) struct Cached {
    inner: Arc<dyn StorageBackend>,
    state: Arc<State>,
    /// Watches filled partitions when the backend has `cross_process_watch`.
    follower: Option<Follower>,
}

/// What a batch leaves in each key it names, and the ranges it clears.
struct BatchEffect {
    keys: HashMap<EntryKey, (Option<Bytes>, Option<Duration>)>,
    ranges: Vec<(Partition, Option<KeyRange>)>,
}

impl BatchEffect {
    /// Replays `ops` in order over the keys they name.
    fn of(ops: &[Operation]) -> Self {
        let mut keys = HashMap::new();
        let mut ranges = Vec::new();
        for op in ops {
            match op {
                Operation::Put {
                    partition,
                    key,
                    value,
                    options,
                } => {
                    let k = EntryKey {
                        partition: partition.clone(),
                        key: key.clone(),
                    };
                    keys.insert(k, (Some(value.clone()), options.ttl));
                }
                Operation::Delete { partition, key } => {
                    let k = EntryKey {
                        partition: partition.clone(),
                        key: key.clone(),
                    };
                    keys.insert(k, (None, None));
                }
                Operation::DeleteRange { partition, range } => {
                    for (k, state) in keys.iter_mut() {
                        if k.partition == *partition && range.contains(&k.key) {
                            *state = (None, None);
                        }
                    }
                    ranges.push((partition.clone(), Some(range.clone())));
                }
                // An operation this layer does not know: forget its whole partition.
                other => ranges.push((other.partition().clone(), None)),
            }
        }
        BatchEffect { keys, ranges }
    }
}

impl Cached {
    pub(crate) fn new(inner: Arc<dyn StorageBackend>, state: State) -> Self {
        let follower = inner
            .capabilities()
            .cross_process_watch
            .then(Follower::default);
        Cached {
            inner,
            state: Arc::new(state),
            follower,
        }
    }

    /// True when entries of `p` may be stored: always, unless other handles' writes
    /// must be followed and `p`'s watch cannot be opened.
    async fn may_fill(&self, p: &Partition) -> bool {
        match &self.follower {
            None => true,
            Some(f) => f.follows(&self.inner, &self.state, p).await,
        }
    }

    /// [`may_fill`](Self::may_fill) for every partition of `keys`.
    async fn may_fill_all(&self, keys: &[EntryKey]) -> bool {
        if self.follower.is_none() {
            return true;
        }
        let mut seen: Vec<&Partition> = Vec::new();
        for k in keys {
            if !seen.contains(&&k.partition) {
                seen.push(&k.partition);
                if !self.may_fill(&k.partition).await {
                    return false;
                }
            }
        }
        true
    }

    /// Runs the write `fut` on `keys` (and whole `ranges`), then records what each key
    /// holds according to `after`.
    async fn write<T>(
        &self,
        timed: bool,
        keys: Vec<EntryKey>,
        ranges: Vec<(Partition, Option<KeyRange>)>,
        fut: impl Future<Output = Result<T>>,
        after: impl Fn(&Result<T>, &EntryKey) -> After,
    ) -> Result<T> {
        if self.state.is_closed() {
            return fut.await;
        }
        let keep = self.may_fill_all(&keys).await;
        let began = timed.then(Instant::now);
        let write = self.state.begin(keys, !ranges.is_empty());
        let result = fut.await;
        let after = |k: &EntryKey| match after(&result, k) {
            After::Known(..) if !keep => After::Forget,
            known => known,
        };
        write.finish(began, after, &ranges);
        result
    }

    async fn write_one<T>(
        &self,
        timed: bool,
        p: &Partition,
        key: &[u8],
        fut: impl Future<Output = Result<T>>,
        after: impl Fn(&Result<T>) -> After,
    ) -> Result<T> {
        let keys = vec![KeyRef::new(p, key).owned()];
        self.write(timed, keys, Vec::new(), fut, |r, _| after(r))
            .await
    }

    async fn write_batch<T>(
        &self,
        effect: BatchEffect,
        fut: impl Future<Output = Result<T>>,
        applied: impl Fn(&T) -> bool,
    ) -> Result<T> {
        let BatchEffect { keys, ranges } = effect;
        let names = keys.keys().cloned().collect();
        let timed = keys.values().any(|(_, ttl)| ttl.is_some());
        self.write(timed, names, ranges, fut, |r, k| match r {
            Ok(answer) if applied(answer) => keys
                .get(k)
                .map_or(After::Forget, |(v, ttl)| After::Known(v.clone(), *ttl)),
            _ => After::Forget,
        })
        .await
    }

    async fn partition_write(
        &self,
        p: &Partition,
        fut: impl Future<Output = Result<()>>,
    ) -> Result<()> {
        let ranges = vec![(p.clone(), None)];
        self.write(false, Vec::new(), ranges, fut, |_, _| After::Forget)
            .await
    }
}

fn known(value: &[u8], ttl: Option<Duration>) -> impl Fn(&Result<()>) -> After + '_ {
    move |r| match r {
        Ok(()) => After::Known(Some(Bytes::copy_from_slice(value)), ttl),
        Err(_) => After::Forget,
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl StorageBackend for Cached {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn create_partition(&self, p: &Partition) -> Result<()> {
        self.partition_write(p, self.inner.create_partition(p))
            .await
    }

    async fn drop_partition(&self, p: &Partition) -> Result<()> {
        self.partition_write(p, self.inner.drop_partition(p)).await
    }

    async fn partition_exists(&self, p: &Partition) -> Result<bool> {
        self.inner.partition_exists(p).await
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        self.inner.list_partitions().await
    }

    async fn get(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        if self.state.is_closed() {
            return self.inner.get(p, key).await;
        }
        let k = KeyRef::new(p, key);
        if let Some(value) = self.state.lookup(&k) {
            return Ok(value);
        }
        let fill = self.may_fill(p).await;
        let snap = self.state.snapshot(&k);
        let value = self.inner.get(p, key).await?;
        if fill {
            self.state.fill(&k, snap, value.clone());
        }
        Ok(value)
    }

    async fn get_many(&self, p: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        if self.state.is_closed() || keys.is_empty() {
            return self.inner.get_many(p, keys).await;
        }
        // All from the cache, or all from the backend: mixing the two could show a key
        // older than an earlier one in the list (a batch applied between the lookups and
        // the fetch), which one `get` per key in order never would.
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            match self.state.lookup(&KeyRef::new(p, key)) {
                Some(value) => values.push(value),
                None => break,
            }
        }
        if values.len() == keys.len() {
            return Ok(values);
        }
        let fill = self.may_fill(p).await;
        let snaps: Vec<_> = keys
            .iter()
            .map(|key| self.state.snapshot(&KeyRef::new(p, key)))
            .collect();
        let fetched = self.inner.get_many(p, keys).await?;
        for ((key, snap), value) in keys.iter().zip(snaps).zip(&fetched) {
            if fill {
                self.state.fill(&KeyRef::new(p, key), snap, value.clone());
            }
        }
        Ok(fetched)
    }

    async fn exists(&self, p: &Partition, key: &[u8]) -> Result<bool> {
        if !self.state.is_closed()
            && let Some(value) = self.state.lookup(&KeyRef::new(p, key))
        {
            return Ok(value.is_some());
        }
        self.inner.exists(p, key).await
    }

    async fn put(&self, p: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        let fut = self.inner.put(p, key, value);
        self.write_one(false, p, key, fut, known(value, None)).await
    }

    async fn put_with(
        &self,
        p: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        let fut = self.inner.put_with(p, key, value, options);
        self.write_one(
            options.ttl.is_some(),
            p,
            key,
            fut,
            known(value, options.ttl),
        )
        .await
    }

    async fn delete(&self, p: &Partition, key: &[u8]) -> Result<()> {
        let fut = self.inner.delete(p, key);
        let after = |r: &Result<()>| match r {
            Ok(()) => After::Known(None, None),
            Err(_) => After::Forget,
        };
        self.write_one(false, p, key, fut, after).await
    }

    async fn scan(&self, p: &Partition, range: ScanRange) -> Result<KvStream> {
        self.inner.scan(p, range).await
    }

    async fn scan_entries(&self, p: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.inner.scan_entries(p, range).await
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let effect = BatchEffect::of(&operations);
        let fut = self.inner.batch(operations);
        self.write_batch(effect, fut, |()| true).await
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        let effect = BatchEffect::of(&operations);
        let fut = self.inner.conditional_batch(checks, operations);
        self.write_batch(effect, fut, BatchOutcome::is_applied)
            .await
    }

    async fn compare_and_swap(
        &self,
        p: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let fut = self.inner.compare_and_swap(p, key, expected, new);
        let after = |r: &Result<CasOutcome>| match r {
            Ok(CasOutcome::Swapped) => After::Known(new.map(Bytes::copy_from_slice), None),
            _ => After::Forget,
        };
        self.write_one(false, p, key, fut, after).await
    }

    async fn watch(&self, p: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        self.inner.watch(p, prefix).await
    }

    async fn partition_size(&self, p: &Partition) -> Result<u64> {
        self.inner.partition_size(p).await
    }

    async fn len(&self, p: &Partition) -> Result<u64> {
        self.inner.len(p).await
    }

    async fn is_empty(&self, p: &Partition) -> Result<bool> {
        self.inner.is_empty(p).await
    }

    async fn compact(&self, p: &Partition) -> Result<()> {
        self.inner.compact(p).await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }

    async fn status(&self) -> Result<Status> {
        let mut status = self.inner.status().await?;
        let s = &self.state;
        let coherence = match self.follower {
            Some(_) => "watch",
            None => "this handle",
        };
        status.insert("cache.coherence".into(), coherence.into());
        status.insert(
            "cache.hits".into(),
            s.hits.load(Ordering::Relaxed).to_string(),
        );
        status.insert(
            "cache.misses".into(),
            s.misses.load(Ordering::Relaxed).to_string(),
        );
        status.insert("cache.bytes".into(), s.weight().to_string());
        Ok(status)
    }

    async fn close(&self) -> Result<()> {
        self.state.close();
        if let Some(f) = &self.follower {
            f.stop();
        }
        self.inner.close().await
    }
}
