//! The `StorageBackend` trait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::stream::BoxStream;

use crate::{
    BatchOutcome, Capabilities, CasOutcome, Check, Entry, Error, Operation, Partition, PutOptions,
    Result, ScanRange, WatchEvent,
};

/// The items of a scan: `(key, value)` pairs in range order (values empty for
/// `keys_only`). Owns its data, so it outlives the call that made it.
pub type KvStream = BoxStream<'static, Result<(Bytes, Bytes)>>;

/// The items of [`StorageBackend::scan_entries`]: each pair with its expiry, in range
/// order.
pub type EntryStream = BoxStream<'static, Result<Entry>>;

/// The items of a watch.
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// Backend-specific figures from [`StorageBackend::status`], by name.
pub type Status = BTreeMap<String, String>;

/// An async key-value store of named, isolated, ordered partitions.
///
/// The full contract (limits, order, errors, durability) is in `docs/contract.md`;
/// each method states its part. Every method on a missing partition answers
/// [`Error::PartitionNotFound`]; every call after [`close`](Self::close) answers
/// [`Error::Closed`]. Keys are 1 to `max_key_len` bytes ([`Error::InvalidKey`]
/// otherwise), values 0 to `max_value_len` bytes ([`Error::InvalidValue`]); a rejected
/// write writes nothing.
///
/// Optional operations default to [`Error::Unsupported`]; derivable ones have default
/// bodies that a backend may replace with a faster native one.
#[async_trait]
pub trait StorageBackend: Send + Sync {
    /// A short stable name for errors and reports, e.g. `"mem"`.
    fn name(&self) -> &'static str;

    /// What this backend offers. Constant for the life of the handle.
    fn capabilities(&self) -> Capabilities;

    /// Creates `partition`; Ok if it already exists.
    async fn create_partition(&self, partition: &Partition) -> Result<()>;

    /// Removes `partition` and all its data. Missing: [`Error::PartitionNotFound`].
    async fn drop_partition(&self, partition: &Partition) -> Result<()>;

    /// True if `partition` exists.
    async fn partition_exists(&self, partition: &Partition) -> Result<bool>;

    /// Every partition, in name order.
    async fn list_partitions(&self) -> Result<Vec<Partition>>;

    /// The current value of `key`, or `None`.
    async fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>>;

    /// The values of `keys`, in order, as if by one `get` each; one round trip where
    /// the engine allows.
    async fn get_many(&self, partition: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(partition, key).await?);
        }
        Ok(values)
    }

    /// True if `key` has a value.
    async fn exists(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        Ok(self.get(partition, key).await?.is_some())
    }

    /// Sets `key` to `value`. Once it returns, every later read on this handle sees it.
    async fn put(&self, partition: &Partition, key: &[u8], value: &[u8]) -> Result<()>;

    /// [`put`](Self::put) with options. A TTL needs the `ttl` capability; without it the
    /// answer is [`Error::Unsupported`] and nothing is written.
    async fn put_with(
        &self,
        partition: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        if options.ttl.is_some() {
            return Err(Error::unsupported(self.name(), "ttl"));
        }
        self.put(partition, key, value).await
    }

    /// Removes `key`; a missing key is a no-op.
    async fn delete(&self, partition: &Partition, key: &[u8]) -> Result<()>;

    /// Streams the pairs in `range`, each key once, in order, in bounded memory.
    ///
    /// Keys not written during the scan always appear; keys written during it may show
    /// either value (none do under `snapshot_scan`). Dropping the stream stops the work.
    /// Errors that can be seen up front (missing partition) come from the call; later
    /// ones arrive as stream items, after which the stream ends.
    async fn scan(&self, partition: &Partition, range: ScanRange) -> Result<KvStream>;

    /// [`scan`](Self::scan) with each key's expiry: the same keys, order, limit,
    /// `keys_only` and consistency, each as an [`Entry`] whose `expires_at` is the
    /// key's absolute deadline (`None`: no TTL). A key that expired before the call
    /// never appears; one that expires while the stream is read may appear with its
    /// (now past) deadline. This is how dump and copy carry TTLs.
    ///
    /// Without the `ttl` capability no key can expire, so the default answers the
    /// plain scan with `expires_at: None` throughout. A backend with `ttl` must
    /// implement it natively: there the default answers [`Error::Unsupported`] rather
    /// than report TTL'd keys as permanent.
    async fn scan_entries(&self, partition: &Partition, range: ScanRange) -> Result<EntryStream> {
        if self.capabilities().ttl {
            return Err(Error::unsupported(self.name(), "scan_entries"));
        }
        let pairs = self.scan(partition, range).await?;
        Ok(Box::pin(WithoutExpiry(pairs)))
    }

    /// Applies `operations` in order, atomically under `atomic_batch`: all or none, and
    /// no reader sees part of it. Any invalid operation (bad key, missing partition)
    /// rejects the whole batch before anything is written.
    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let _ = operations;
        Err(Error::unsupported(self.name(), "batch"))
    }

    /// Applies `operations` only if every check holds, as one atomic step: no write
    /// can come between the checks and the operations, and no reader sees part of it.
    ///
    /// Validation comes first (each check's key, then each operation as in
    /// [`batch`](Self::batch), then every partition named), so an invalid argument
    /// writes nothing whatever the checks would say. Then the checks are evaluated in
    /// order against the current state (an expired key is absent); the first that fails
    /// is answered as [`BatchOutcome::CheckFailed`] with what its key held, and nothing
    /// is written. Otherwise the operations are applied in order and the answer is
    /// [`BatchOutcome::Applied`]. No checks: an atomic batch. Needs `conditional_batch`;
    /// never emulated by a read followed by a write.
    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        let _ = (checks, operations);
        Err(Error::unsupported(self.name(), "conditional_batch"))
    }

    /// Atomically replaces the value of `key` if it currently equals `expected`
    /// (`None`: the key must be absent), with `new` (`None`: delete it). On mismatch
    /// nothing is written and the current value is returned. The one-key case of
    /// [`conditional_batch`](Self::conditional_batch): swapping an absent key for
    /// absent is `Swapped` and writes nothing. Needs `compare_and_swap`; the default
    /// runs it as a one-key conditional batch when both `compare_and_swap` and
    /// `conditional_batch` are declared, and answers [`Error::Unsupported`] otherwise
    /// (so the capability never lies).
    async fn compare_and_swap(
        &self,
        partition: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        let caps = self.capabilities();
        if !(caps.compare_and_swap && caps.conditional_batch) {
            return Err(Error::unsupported(self.name(), "compare_and_swap"));
        }
        let key = Bytes::copy_from_slice(key);
        let check = Check::new(partition, key.clone(), expected.map(Bytes::copy_from_slice));
        let write = match new {
            Some(value) => Operation::put(partition, key, Bytes::copy_from_slice(value)),
            None => Operation::delete(partition, key),
        };
        Ok(
            match self.conditional_batch(vec![check], vec![write]).await? {
                BatchOutcome::CheckFailed { current, .. } => CasOutcome::Mismatch { current },
                _ => CasOutcome::Swapped,
            },
        )
    }

    /// Streams every put and delete of a key starting with `prefix` committed after
    /// this call returns, in commit order per key. A watcher that falls behind gets
    /// [`WatchEvent::Lagged`]; writers never wait for it. TTL expiry is not reported.
    /// Needs `watch`.
    async fn watch(&self, partition: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        let _ = (partition, prefix);
        Err(Error::unsupported(self.name(), "watch"))
    }

    /// Approximate live bytes (keys plus values) in `partition`.
    async fn partition_size(&self, partition: &Partition) -> Result<u64>;

    /// Number of live keys: exact under `exact_len`, else an estimate. The default
    /// counts with a keys-only scan.
    async fn len(&self, partition: &Partition) -> Result<u64> {
        let mut stream = self.scan(partition, ScanRange::all().keys_only()).await?;
        let mut count = 0;
        while let Some(item) = next(&mut stream).await {
            item?;
            count += 1;
        }
        Ok(count)
    }

    /// True if `partition` holds no live key.
    async fn is_empty(&self, partition: &Partition) -> Result<bool> {
        let mut stream = self
            .scan(partition, ScanRange::all().keys_only().limit(1))
            .await?;
        match next(&mut stream).await {
            None => Ok(true),
            Some(item) => item.map(|_| false),
        }
    }

    /// Reclaims space (merge, compaction) without changing the contents. Needs
    /// `compact`.
    async fn compact(&self, partition: &Partition) -> Result<()> {
        let _ = partition;
        Err(Error::unsupported(self.name(), "compact"))
    }

    /// Returns once every acknowledged write is durable (a no-op when not
    /// `persistent`).
    async fn flush(&self) -> Result<()>;

    /// Backend-specific figures (counts, bytes, engine statistics) by name.
    async fn status(&self) -> Result<Status>;

    /// Flushes, releases files and locks; every later call answers [`Error::Closed`].
    /// Closing twice is Ok.
    async fn close(&self) -> Result<()>;
}

/// `StreamExt::next` without depending on futures-util.
async fn next<S: futures_core::Stream + Unpin + ?Sized>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// A scan's pairs as entries that never expire (the default `scan_entries` of a
/// backend without `ttl`).
struct WithoutExpiry(KvStream);

impl futures_core::Stream for WithoutExpiry {
    type Item = Result<Entry>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|pair| pair.map(|(key, value)| Entry::new(key, value, None))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// The future every trait method returns (what `#[async_trait]` expands to).
type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Forwards every method, so `Arc<dyn StorageBackend>` and `Box<dyn StorageBackend>`
/// are backends too. The test `forward_covers_every_method` below fails when a trait
/// method has no line here (a default body would silently answer instead). Written without `#[async_trait]`: each method hands back the inner
/// backend's boxed future as is, so a call through the pointer allocates no second future.
/// The lifetime parameters and bounds mirror `#[async_trait]`'s expansion of the trait.
macro_rules! forward {
    ($($ptr:ident),*) => {$(
        impl<T: StorageBackend + ?Sized> StorageBackend for $ptr<T> {
            fn name(&self) -> &'static str { (**self).name() }
            fn capabilities(&self) -> Capabilities { (**self).capabilities() }
            fn create_partition<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, ()> where 's: 'f, 'p: 'f, Self: 'f { (**self).create_partition(p) }
            fn drop_partition<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, ()> where 's: 'f, 'p: 'f, Self: 'f { (**self).drop_partition(p) }
            fn partition_exists<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, bool> where 's: 'f, 'p: 'f, Self: 'f { (**self).partition_exists(p) }
            fn list_partitions<'s, 'f>(&'s self) -> Fut<'f, Vec<Partition>> where 's: 'f, Self: 'f { (**self).list_partitions() }
            fn get<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, k: &'k [u8]) -> Fut<'f, Option<Bytes>> where 's: 'f, 'p: 'f, 'k: 'f, Self: 'f { (**self).get(p, k) }
            fn get_many<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, ks: &'k [Bytes]) -> Fut<'f, Vec<Option<Bytes>>> where 's: 'f, 'p: 'f, 'k: 'f, Self: 'f { (**self).get_many(p, ks) }
            fn exists<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, k: &'k [u8]) -> Fut<'f, bool> where 's: 'f, 'p: 'f, 'k: 'f, Self: 'f { (**self).exists(p, k) }
            fn put<'s, 'p, 'k, 'v, 'f>(&'s self, p: &'p Partition, k: &'k [u8], v: &'v [u8]) -> Fut<'f, ()> where 's: 'f, 'p: 'f, 'k: 'f, 'v: 'f, Self: 'f { (**self).put(p, k, v) }
            fn put_with<'s, 'p, 'k, 'v, 'f>(&'s self, p: &'p Partition, k: &'k [u8], v: &'v [u8], o: PutOptions) -> Fut<'f, ()> where 's: 'f, 'p: 'f, 'k: 'f, 'v: 'f, Self: 'f { (**self).put_with(p, k, v, o) }
            fn delete<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, k: &'k [u8]) -> Fut<'f, ()> where 's: 'f, 'p: 'f, 'k: 'f, Self: 'f { (**self).delete(p, k) }
            fn scan<'s, 'p, 'f>(&'s self, p: &'p Partition, r: ScanRange) -> Fut<'f, KvStream> where 's: 'f, 'p: 'f, Self: 'f { (**self).scan(p, r) }
            fn scan_entries<'s, 'p, 'f>(&'s self, p: &'p Partition, r: ScanRange) -> Fut<'f, EntryStream> where 's: 'f, 'p: 'f, Self: 'f { (**self).scan_entries(p, r) }
            fn batch<'s, 'f>(&'s self, ops: Vec<Operation>) -> Fut<'f, ()> where 's: 'f, Self: 'f { (**self).batch(ops) }
            fn conditional_batch<'s, 'f>(&'s self, checks: Vec<Check>, ops: Vec<Operation>) -> Fut<'f, BatchOutcome> where 's: 'f, Self: 'f { (**self).conditional_batch(checks, ops) }
            fn compare_and_swap<'s, 'p, 'k, 'e, 'n, 'f>(&'s self, p: &'p Partition, k: &'k [u8], e: Option<&'e [u8]>, n: Option<&'n [u8]>) -> Fut<'f, CasOutcome> where 's: 'f, 'p: 'f, 'k: 'f, 'e: 'f, 'n: 'f, Self: 'f { (**self).compare_and_swap(p, k, e, n) }
            fn watch<'s, 'p, 'x, 'f>(&'s self, p: &'p Partition, prefix: &'x [u8]) -> Fut<'f, WatchStream> where 's: 'f, 'p: 'f, 'x: 'f, Self: 'f { (**self).watch(p, prefix) }
            fn partition_size<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, u64> where 's: 'f, 'p: 'f, Self: 'f { (**self).partition_size(p) }
            fn len<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, u64> where 's: 'f, 'p: 'f, Self: 'f { (**self).len(p) }
            fn is_empty<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, bool> where 's: 'f, 'p: 'f, Self: 'f { (**self).is_empty(p) }
            fn compact<'s, 'p, 'f>(&'s self, p: &'p Partition) -> Fut<'f, ()> where 's: 'f, 'p: 'f, Self: 'f { (**self).compact(p) }
            fn flush<'s, 'f>(&'s self) -> Fut<'f, ()> where 's: 'f, Self: 'f { (**self).flush() }
            fn status<'s, 'f>(&'s self) -> Fut<'f, Status> where 's: 'f, Self: 'f { (**self).status() }
            fn close<'s, 'f>(&'s self) -> Fut<'f, ()> where 's: 'f, Self: 'f { (**self).close() }
        }
    )*};
}

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
forward!(Arc, Box);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The names of the `fn`s declared in `text` (one item per line, as rustfmt and the
    /// `forward!` macro write them).
    fn fn_names(text: &str) -> BTreeSet<&str> {
        text.lines()
            .filter_map(|line| {
                let rest = line.trim_start();
                let rest = rest.strip_prefix("async ").unwrap_or(rest);
                let rest = rest.strip_prefix("fn ")?;
                let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
                Some(&rest[..end])
            })
            .collect()
    }

    /// Guard: a method added to `StorageBackend` without a forwarding line would make
    /// `Arc<dyn StorageBackend>` answer with the trait's default (often `Unsupported`).
    #[test]
    fn forward_covers_every_method() {
        let source = include_str!("backend.rs");
        let trait_start = source.find("pub trait StorageBackend").expect("trait");
        let trait_end = trait_start + source[trait_start..].find("\n}\n").expect("trait end");
        let macro_start = source.find("macro_rules! forward").expect("forward!");
        let macro_end = macro_start + source[macro_start..].find("\n}\n").expect("macro end");
        let declared = fn_names(&source[trait_start..trait_end]);
        let forwarded = fn_names(&source[macro_start..macro_end]);
        assert!(
            declared.len() >= 20,
            "parsed too few trait methods: {declared:?}"
        );
        assert_eq!(
            declared, forwarded,
            "every trait method needs a forward! line"
        );
    }
}
