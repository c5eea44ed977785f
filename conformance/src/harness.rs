//! How the battery opens the backend under test.

use std::sync::Arc;

use backend_api::{Capabilities, Partition, Result, StorageBackend, async_trait};

/// Opens fresh, isolated stores of the backend under test.
///
/// `create` makes a new empty store nobody else sees (a temporary directory, a fresh
/// namespace on a server); `open` opens a handle on it. For persistent backends the
/// battery closes a handle and calls `open` again on the same store to check what
/// survived; for backends with `cross_process_watch` it also opens a second handle while
/// the first is still open.
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// One isolated store (a temp dir, a namespace). Dropping it may clean up.
    type Store: Send + Sync + 'static;

    /// Makes a new, empty, isolated store.
    async fn create(&self) -> Self::Store;

    /// Opens a handle on `store`.
    async fn open(&self, store: &Self::Store) -> Result<Arc<dyn StorageBackend>>;

    /// What the battery should know about the backend beyond its capabilities.
    /// Default: [`Facts::default`] (a second open is not refused, no reserved names).
    fn facts(&self) -> Facts {
        Facts::default()
    }
}

/// Backend facts that are not capabilities: they change what the battery expects, not
/// what the backend offers. Build with [`Facts::new`] and the `with_` methods (the
/// struct is `#[non_exhaustive]`, so new facts can arrive with their defaults).
///
/// ```
/// let facts = conformance::Facts::new()
///     .with_exclusive_open(true)
///     .with_reserved_partition_names(&["default"]);
/// assert!(facts.exclusive_open);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Facts {
    /// A second `open` of a store that still has a live handle answers
    /// `Error::Locked` (an embedded engine holding a file lock). When false and the
    /// backend is `persistent` or `cross_process_watch`, the battery opens a second
    /// handle and expects it to share the store.
    pub exclusive_open: bool,
    /// Names the engine itself uses for its own data (RocksDB's `default` column
    /// family, sled's `__sled__default` tree). A user partition with one of these names
    /// must be an ordinary, empty, isolated partition, or be refused with
    /// `InvalidPartitionName`; the engine's own never shows in `list_partitions`.
    pub reserved_partition_names: &'static [&'static str],
}

impl Facts {
    /// The defaults: not exclusive, no reserved names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Facts::exclusive_open`].
    pub fn with_exclusive_open(mut self, exclusive: bool) -> Self {
        self.exclusive_open = exclusive;
        self
    }

    /// Sets [`Facts::reserved_partition_names`].
    pub fn with_reserved_partition_names(mut self, names: &'static [&'static str]) -> Self {
        self.reserved_partition_names = names;
        self
    }
}

/// Why a case did not run.
#[derive(Debug)]
pub struct Skip(pub String);

/// What a case returns: `Ok` when it ran and every assertion held (a failed assertion
/// panics), `Err(Skip)` when the backend's capabilities rule it out.
pub type Outcome = std::result::Result<(), Skip>;

/// Skips the case unless `cond` holds, naming the missing capability.
#[macro_export]
macro_rules! require {
    ($cond:expr, $why:expr) => {
        if !$cond {
            return Err($crate::Skip(::std::string::String::from($why)));
        }
    };
}

/// A case's view of one store: the harness, the store, an open handle on it.
pub struct Ctx<H: Harness> {
    harness: H,
    store: H::Store,
    /// The open handle.
    pub backend: Arc<dyn StorageBackend>,
    /// `backend.capabilities()`, read once.
    pub caps: Capabilities,
    /// `harness.facts()`, read once.
    pub facts: Facts,
}

impl<H: Harness> Ctx<H> {
    /// Creates a fresh store and opens it.
    pub async fn new(harness: H) -> Self {
        let store = harness.create().await;
        let backend = harness
            .open(&store)
            .await
            .expect("harness failed to open a fresh store");
        let caps = backend.capabilities();
        let facts = harness.facts();
        Ctx {
            harness,
            store,
            backend,
            caps,
            facts,
        }
    }

    /// Creates partition `name` and returns it.
    pub async fn partition(&self, name: &str) -> Partition {
        let p = Partition::new(name).expect("case uses a valid partition name");
        self.backend
            .create_partition(&p)
            .await
            .expect("create_partition");
        p
    }

    /// Closes the handle and opens the same store again (persistent backends).
    pub async fn reopen(&mut self) {
        self.backend.close().await.expect("close before reopen");
        self.backend = self.harness.open(&self.store).await.expect("reopen");
    }

    /// Closes the handle and replaces the store with a new, empty one from the harness
    /// (the old store is dropped after its handle is closed). The model test uses this
    /// so every generated sequence starts from nothing.
    pub async fn fresh_store(&mut self) {
        let _ = self.backend.close().await;
        let store = self.harness.create().await;
        self.backend = self
            .harness
            .open(&store)
            .await
            .expect("harness failed to open a fresh store");
        self.store = store;
    }

    /// Opens a second handle on the same store while the first stays open.
    pub async fn second_handle(&self) -> Result<Arc<dyn StorageBackend>> {
        self.harness.open(&self.store).await
    }

    /// True when a second handle on the same store is both allowed (not
    /// [`Facts::exclusive_open`]) and shares the store (`persistent` or
    /// `cross_process_watch`; a non-persistent in-process backend opens a new, empty
    /// store instead).
    pub fn shares_second_handle(&self) -> bool {
        !self.facts.exclusive_open && (self.caps.persistent || self.caps.cross_process_watch)
    }
}
