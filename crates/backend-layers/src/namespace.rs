//! Namespace: a fixed partition-name prefix, so applications share a store unseen.

use std::future::Future;
use std::sync::Arc;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, EntryStream, Error, KvStream,
    MAX_PARTITION_NAME_LEN, Operation, Partition, PutOptions, Result, ScanRange, Status,
    StorageBackend, WatchStream, async_trait,
};

use crate::layer::Layer;

/// The longest namespace, in characters.
pub const MAX_NAMESPACE_LEN: usize = 32;

/// Length of the hash that ends the inner name of a long partition name.
const HASH_LEN: usize = 16;

/// Gives every partition an inner name `<namespace>_<name>`, so several applications
/// can share one store, each seeing only its own partitions (object_store's
/// `PrefixStore`, for partitions).
///
/// A namespace is 1 to 32 characters of `[A-Za-z0-9]` and not `sys`. It has no `_`, so
/// namespace `a` with partition `b_c` and namespace `a_b` with partition `c` cannot
/// meet. `list_partitions` shows only this namespace's partitions, under the caller's
/// names, in name order; errors name the caller's partition too.
///
/// **Long names.** Partition names are at most 64 characters inside the store as well.
/// When `<namespace>_<name>` would be longer than 63, the inner name is instead the
/// first characters of it followed by 16 hex digits of a hash of the whole name, exactly
/// 64 characters (so it can never equal a short name's inner name), and the caller's
/// name is recorded under that inner name in a system partition `sys_ns_<namespace>`, so
/// `list_partitions` can show it. Two long names whose hashes collide are refused with
/// `InvalidPartitionName` at `create_partition`.
///
/// Applications that share a store should all use a namespace: a partition
/// `app_users` made without one is `users` to namespace `app`. Applied twice, the
/// prefixes nest (`outer_inner_name`), with the long-name rule applied at each level.
#[derive(Clone, Debug)]
pub struct NamespaceLayer {
    ns: Arc<Names>,
}

#[derive(Debug)]
struct Names {
    prefix: String,
    meta: Partition,
}

impl NamespaceLayer {
    /// Partitions under `namespace`. `InvalidConfig` unless it is 1 to 32 characters of
    /// `[A-Za-z0-9]` and not `sys`.
    pub fn new(namespace: &str) -> Result<Self> {
        let valid = (1..=MAX_NAMESPACE_LEN).contains(&namespace.len())
            && namespace.bytes().all(|b| b.is_ascii_alphanumeric())
            && namespace != "sys";
        if !valid {
            return Err(Error::InvalidConfig {
                detail: format!(
                    "namespace {namespace:?}: use 1 to {MAX_NAMESPACE_LEN} characters of [A-Za-z0-9], not \"sys\""
                ),
                source: None,
            });
        }
        Ok(NamespaceLayer {
            ns: Arc::new(Names {
                prefix: format!("{namespace}_"),
                meta: Partition::system(format!("ns_{namespace}"))?,
            }),
        })
    }
}

impl Layer for NamespaceLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(Namespaced {
            inner,
            ns: self.ns.clone(),
        })
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms, as the stored names require.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Names {
    /// The inner name of `p`, and whether it is a hashed long name.
    fn inner(&self, p: &Partition) -> Result<(Partition, bool)> {
        let full = format!("{}{}", self.prefix, p.name());
        if full.len() < MAX_PARTITION_NAME_LEN {
            return Ok((Partition::parse(full)?, false));
        }
        let head = MAX_PARTITION_NAME_LEN - HASH_LEN;
        let hashed = format!("{}{:016x}", &full[..head], fnv1a(full.as_bytes()));
        Ok((Partition::parse(hashed)?, true))
    }

    /// The caller's name for a short inner name of this namespace (`None`: not ours, or
    /// a hashed one).
    fn outer_short(&self, inner: &Partition) -> Option<Partition> {
        let rest = inner.name().strip_prefix(&self.prefix)?;
        if inner.name().len() >= MAX_PARTITION_NAME_LEN {
            return None;
        }
        Partition::parse(rest).ok()
    }
}

/// A backend under a namespace.
struct Namespaced {
    inner: Arc<dyn StorageBackend>,
    ns: Arc<Names>,
}

impl Namespaced {
    fn map(&self, p: &Partition) -> Result<Partition> {
        Ok(self.ns.inner(p)?.0)
    }

    /// `PartitionNotFound` names the caller's partition, found among `pairs` of
    /// (inner, outer) names.
    fn rename(error: Error, pairs: &[(Partition, Partition)]) -> Error {
        match error {
            Error::PartitionNotFound(name) => {
                let outer = pairs
                    .iter()
                    .find(|(inner, _)| inner.name() == name)
                    .map_or(name, |(_, outer)| outer.name().to_owned());
                Error::PartitionNotFound(outer)
            }
            other => other,
        }
    }

    /// Runs `f` on the inner partition of `p`, naming `p` in a `PartitionNotFound`.
    async fn on<T, F, Fut>(&self, p: &Partition, f: F) -> Result<T>
    where
        F: FnOnce(Partition) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let inner = self.map(p)?;
        f(inner.clone())
            .await
            .map_err(|e| Self::rename(e, &[(inner, p.clone())]))
    }

    fn map_op(&self, op: Operation, pairs: &mut Vec<(Partition, Partition)>) -> Result<Operation> {
        let outer = op.partition().clone();
        let inner = self.map(&outer)?;
        let mapped = match op {
            Operation::Put {
                key,
                value,
                options,
                ..
            } => Operation::put_with(&inner, key, value, options),
            Operation::Delete { key, .. } => Operation::delete(&inner, key),
            Operation::DeleteRange { range, .. } => Operation::delete_range(&inner, range),
            _ => return Err(Error::unsupported(self.inner.name(), "operation")),
        };
        pairs.push((inner, outer));
        Ok(mapped)
    }

    fn map_check(&self, check: Check, pairs: &mut Vec<(Partition, Partition)>) -> Result<Check> {
        let inner = self.map(&check.partition)?;
        let mapped = Check::new(&inner, check.key, check.expected);
        pairs.push((inner, check.partition));
        Ok(mapped)
    }

    /// Records a hashed long name so `list_partitions` can show it.
    async fn remember(&self, inner: &Partition, outer: &Partition) -> Result<()> {
        let meta = &self.ns.meta;
        self.inner.create_partition(meta).await?;
        let key = inner.name().as_bytes();
        match self.inner.get(meta, key).await? {
            Some(known) if known != outer.name().as_bytes() => Err(Error::InvalidPartitionName {
                name: outer.name().to_owned(),
                reason: "its hash collides with another long partition name of this namespace",
            }),
            Some(_) => Ok(()),
            None => self.inner.put(meta, key, outer.name().as_bytes()).await,
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl StorageBackend for Namespaced {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn create_partition(&self, p: &Partition) -> Result<()> {
        let (inner, hashed) = self.ns.inner(p)?;
        if hashed {
            self.remember(&inner, p).await?;
        }
        self.inner.create_partition(&inner).await
    }

    async fn drop_partition(&self, p: &Partition) -> Result<()> {
        let (inner, hashed) = self.ns.inner(p)?;
        self.inner
            .drop_partition(&inner)
            .await
            .map_err(|e| Self::rename(e, &[(inner.clone(), p.clone())]))?;
        if hashed {
            self.inner
                .delete(&self.ns.meta, inner.name().as_bytes())
                .await?;
        }
        Ok(())
    }

    async fn partition_exists(&self, p: &Partition) -> Result<bool> {
        self.on(p, |q| async move { self.inner.partition_exists(&q).await })
            .await
    }

    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        let mut names = Vec::new();
        for inner in self.inner.list_partitions().await? {
            if let Some(outer) = self.ns.outer_short(&inner) {
                names.push(outer);
            } else if inner.name().starts_with(&self.ns.prefix) {
                let known = self
                    .inner
                    .get(&self.ns.meta, inner.name().as_bytes())
                    .await?;
                if let Some(outer) = known.and_then(|v| {
                    std::str::from_utf8(&v)
                        .ok()
                        .and_then(|s| Partition::parse(s).ok())
                }) {
                    names.push(outer);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    async fn get(&self, p: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.on(p, |q| async move { self.inner.get(&q, key).await })
            .await
    }

    async fn get_many(&self, p: &Partition, keys: &[Bytes]) -> Result<Vec<Option<Bytes>>> {
        self.on(p, |q| async move { self.inner.get_many(&q, keys).await })
            .await
    }

    async fn exists(&self, p: &Partition, key: &[u8]) -> Result<bool> {
        self.on(p, |q| async move { self.inner.exists(&q, key).await })
            .await
    }

    async fn put(&self, p: &Partition, key: &[u8], value: &[u8]) -> Result<()> {
        self.on(p, |q| async move { self.inner.put(&q, key, value).await })
            .await
    }

    async fn put_with(
        &self,
        p: &Partition,
        key: &[u8],
        value: &[u8],
        options: PutOptions,
    ) -> Result<()> {
        self.on(p, |q| async move {
            self.inner.put_with(&q, key, value, options).await
        })
        .await
    }

    async fn delete(&self, p: &Partition, key: &[u8]) -> Result<()> {
        self.on(p, |q| async move { self.inner.delete(&q, key).await })
            .await
    }

    async fn scan(&self, p: &Partition, range: ScanRange) -> Result<KvStream> {
        self.on(p, |q| async move { self.inner.scan(&q, range).await })
            .await
    }

    async fn scan_entries(&self, p: &Partition, range: ScanRange) -> Result<EntryStream> {
        self.on(
            p,
            |q| async move { self.inner.scan_entries(&q, range).await },
        )
        .await
    }

    async fn batch(&self, operations: Vec<Operation>) -> Result<()> {
        let mut pairs = Vec::new();
        let ops = operations
            .into_iter()
            .map(|op| self.map_op(op, &mut pairs))
            .collect::<Result<Vec<_>>>()?;
        self.inner
            .batch(ops)
            .await
            .map_err(|e| Self::rename(e, &pairs))
    }

    async fn conditional_batch(
        &self,
        checks: Vec<Check>,
        operations: Vec<Operation>,
    ) -> Result<BatchOutcome> {
        let mut pairs = Vec::new();
        let checks = checks
            .into_iter()
            .map(|c| self.map_check(c, &mut pairs))
            .collect::<Result<Vec<_>>>()?;
        let ops = operations
            .into_iter()
            .map(|op| self.map_op(op, &mut pairs))
            .collect::<Result<Vec<_>>>()?;
        self.inner
            .conditional_batch(checks, ops)
            .await
            .map_err(|e| Self::rename(e, &pairs))
    }

    async fn compare_and_swap(
        &self,
        p: &Partition,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome> {
        self.on(p, |q| async move {
            self.inner.compare_and_swap(&q, key, expected, new).await
        })
        .await
    }

    async fn watch(&self, p: &Partition, prefix: &[u8]) -> Result<WatchStream> {
        self.on(p, |q| async move { self.inner.watch(&q, prefix).await })
            .await
    }

    async fn partition_size(&self, p: &Partition) -> Result<u64> {
        self.on(p, |q| async move { self.inner.partition_size(&q).await })
            .await
    }

    async fn len(&self, p: &Partition) -> Result<u64> {
        self.on(p, |q| async move { self.inner.len(&q).await })
            .await
    }

    async fn is_empty(&self, p: &Partition) -> Result<bool> {
        self.on(p, |q| async move { self.inner.is_empty(&q).await })
            .await
    }

    async fn compact(&self, p: &Partition) -> Result<()> {
        self.on(p, |q| async move { self.inner.compact(&q).await })
            .await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }

    async fn status(&self) -> Result<Status> {
        self.inner.status().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_validated() {
        for bad in ["", "a_b", "sys", "a-b", &"a".repeat(33)] {
            assert!(NamespaceLayer::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(NamespaceLayer::new(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn short_names_are_prefixed_and_long_ones_hashed_to_64() {
        let ns = NamespaceLayer::new("app").unwrap().ns;
        let (inner, hashed) = ns.inner(&Partition::new("users").unwrap()).unwrap();
        assert_eq!((inner.name(), hashed), ("app_users", false));
        assert_eq!(ns.outer_short(&inner).unwrap().name(), "users");
        let long = Partition::new("x".repeat(64)).unwrap();
        let (inner, hashed) = ns.inner(&long).unwrap();
        assert!(hashed);
        assert_eq!(inner.name().len(), 64);
        assert!(ns.outer_short(&inner).is_none());
        let other = Partition::new(format!("{}y", "x".repeat(63))).unwrap();
        assert_ne!(ns.inner(&other).unwrap().0, inner);
        let edge = Partition::new("e".repeat(59)).unwrap();
        assert_eq!(ns.inner(&edge).unwrap().0.name().len(), 63);
    }
}
