//! The shared forwarding mechanism: a layer that only needs to act *around* calls
//! implements [`Around`]; [`Layered`] turns it into a `StorageBackend` by routing every
//! trait method through it. Only this file lists the trait's methods for such layers, so
//! a method added to the trait is either routed here for all of them or caught by the
//! guards (clippy's `missing_trait_methods`, denied on the impl below, and the test
//! `every_impl_forwards_every_method`).

use std::sync::Arc;

use backend_api::{
    BatchOutcome, Bytes, Capabilities, CasOutcome, Check, EntryStream, KvStream, Operation,
    Partition, PutOptions, ScanRange, Status, StorageBackend, WatchStream,
};

use crate::op::{BoxFut, Call, Op, Reply, ScanItem, ScanStream};

/// One attempt of a call, which a layer may run once ([`run`](Run::run)) or, when it
/// retries, several times ([`run_again`](Run::run_again) clones the owned arguments,
/// e.g. a batch's operations, for every attempt but the last).
pub trait Run<'a, T>: Send + Sync + 'a {
    /// Runs the call, consuming its arguments.
    fn run(self) -> BoxFut<'a, T>;
    /// Runs the call with a copy of its arguments, keeping them for another attempt.
    fn run_again(&self) -> BoxFut<'a, T>;
}

/// The arguments of a call and the inner method to call with them.
pub struct Attempt<A, F> {
    args: A,
    f: F,
}

impl<A, F> Attempt<A, F> {
    /// `f(args)` is the call.
    pub fn new<'a, T>(args: A, f: F) -> Self
    where
        F: Fn(A) -> BoxFut<'a, T>,
    {
        Attempt { args, f }
    }
}

impl<'a, T, A, F> Run<'a, T> for Attempt<A, F>
where
    A: Clone + Send + Sync + 'a,
    F: Fn(A) -> BoxFut<'a, T> + Send + Sync + 'a,
{
    fn run(self) -> BoxFut<'a, T> {
        (self.f)(self.args)
    }

    fn run_again(&self) -> BoxFut<'a, T> {
        (self.f)(self.args.clone())
    }
}

/// A layer that acts around calls without changing their arguments: metrics, tracing,
/// timeout, retry, concurrency limit, fault injection.
///
/// Every method is required (no defaults), so a layer states what it does for streams.
pub trait Around: Send + Sync + 'static {
    /// Wraps one call (every method but `scan`, `scan_entries` and `watch`, and `name`
    /// and `capabilities`, which are answered by the inner backend).
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, call: Call<'a>, run: R) -> BoxFut<'a, T>;

    /// Wraps the call that opens a scan (`scan`, whose items are pairs, or
    /// `scan_entries`, whose items are [`Entry`](backend_api::Entry)s; `call.op` says
    /// which), and may wrap the stream it returns. Per-call resources (permits, timers)
    /// must be released when the call returns, not held for the stream's lifetime.
    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>>;

    /// Wraps the call that opens a watch, and may wrap the stream it returns (same
    /// rule as [`scan`](Around::scan)).
    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream>;
}

/// A backend wrapped in an [`Around`] layer. Cheap: two `Arc`s and the backend's name.
pub struct Layered<A> {
    inner: Arc<dyn StorageBackend>,
    around: Arc<A>,
    name: &'static str,
}

impl<A: Around> Layered<A> {
    /// `inner` with `around` acting on every call.
    pub fn new(inner: Arc<dyn StorageBackend>, around: Arc<A>) -> Self {
        let name = inner.name();
        Layered {
            inner,
            around,
            name,
        }
    }

    /// The layer's state.
    pub fn around(&self) -> &A {
        &self.around
    }

    fn info<'a>(&self, op: Op) -> Call<'a> {
        Call::new(op, self.name)
    }
}

/// Bytes a batch writes: keys and values of its puts, keys of its deletes.
pub(crate) fn batch_bytes(ops: &[Operation]) -> u64 {
    ops.iter()
        .map(|op| match op {
            Operation::Put { key, value, .. } => (key.len() + value.len()) as u64,
            Operation::Delete { key, .. } => key.len() as u64,
            _ => 0,
        })
        .sum()
}

/// Methods that hand the layer the inner call unchanged, as one [`Around::call`] each:
/// `fn name(p) -> T = Op;` for a method whose only argument is the partition,
/// `fn name() -> T = Op;` for one without arguments. Each expands to a method shaped
/// like `get` below (same lifetimes and bounds), for use in `Layered`'s impl only.
macro_rules! forward {
    ($(fn $method:ident(p) -> $t:ty = $op:ident;)+) => {$(
        fn $method<'s, 'p, 'f>(&'s self, p: &'p Partition) -> BoxFut<'f, $t>
        where
            's: 'f,
            'p: 'f,
            Self: 'f,
        {
            let inner = &self.inner;
            let call = self.info(Op::$op).on(p);
            self.around
                .call(call, Attempt::new(p, move |p| inner.$method(p)))
        }
    )+};
    ($(fn $method:ident() -> $t:ty = $op:ident;)+) => {$(
        fn $method<'s, 'f>(&'s self) -> BoxFut<'f, $t>
        where
            's: 'f,
            Self: 'f,
        {
            let inner = &self.inner;
            let call = self.info(Op::$op);
            self.around
                .call(call, Attempt::new((), move |()| inner.$method()))
        }
    )+};
}

// The lifetime parameters and bounds mirror `#[async_trait]`'s expansion of the trait,
// as backend-api's own `Arc`/`Box` forwarding does; each method hands the layer the
// inner call to make, so no future is boxed twice by the mechanism itself.
#[deny(clippy::missing_trait_methods)]
impl<A: Around> StorageBackend for Layered<A> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    forward! {
        fn create_partition(p) -> () = CreatePartition;
        fn drop_partition(p) -> () = DropPartition;
        fn partition_exists(p) -> bool = PartitionExists;
    }

    forward! {
        fn list_partitions() -> Vec<Partition> = ListPartitions;
    }

    fn get<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, k: &'k [u8]) -> BoxFut<'f, Option<Bytes>>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::Get).on(p).key(k.len());
        self.around
            .call(call, Attempt::new((p, k), move |(p, k)| inner.get(p, k)))
    }

    fn get_many<'s, 'p, 'k, 'f>(
        &'s self,
        p: &'p Partition,
        ks: &'k [Bytes],
    ) -> BoxFut<'f, Vec<Option<Bytes>>>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::GetMany).on(p);
        self.around.call(
            call,
            Attempt::new((p, ks), move |(p, ks)| inner.get_many(p, ks)),
        )
    }

    fn exists<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, k: &'k [u8]) -> BoxFut<'f, bool>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::Exists).on(p).key(k.len());
        self.around
            .call(call, Attempt::new((p, k), move |(p, k)| inner.exists(p, k)))
    }

    fn put<'s, 'p, 'k, 'v, 'f>(
        &'s self,
        p: &'p Partition,
        k: &'k [u8],
        v: &'v [u8],
    ) -> BoxFut<'f, ()>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        'v: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self
            .info(Op::Put)
            .on(p)
            .key(k.len())
            .writes((k.len() + v.len()) as u64);
        self.around.call(
            call,
            Attempt::new((p, k, v), move |(p, k, v)| inner.put(p, k, v)),
        )
    }

    fn put_with<'s, 'p, 'k, 'v, 'f>(
        &'s self,
        p: &'p Partition,
        k: &'k [u8],
        v: &'v [u8],
        o: PutOptions,
    ) -> BoxFut<'f, ()>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        'v: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self
            .info(Op::PutWith)
            .on(p)
            .key(k.len())
            .writes((k.len() + v.len()) as u64);
        self.around.call(
            call,
            Attempt::new((p, k, v, o), move |(p, k, v, o)| inner.put_with(p, k, v, o)),
        )
    }

    fn delete<'s, 'p, 'k, 'f>(&'s self, p: &'p Partition, k: &'k [u8]) -> BoxFut<'f, ()>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self
            .info(Op::Delete)
            .on(p)
            .key(k.len())
            .writes(k.len() as u64);
        self.around
            .call(call, Attempt::new((p, k), move |(p, k)| inner.delete(p, k)))
    }

    fn scan<'s, 'p, 'f>(&'s self, p: &'p Partition, r: ScanRange) -> BoxFut<'f, KvStream>
    where
        's: 'f,
        'p: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::Scan).on(p);
        self.around
            .scan(call, Attempt::new((p, r), move |(p, r)| inner.scan(p, r)))
    }

    fn scan_entries<'s, 'p, 'f>(&'s self, p: &'p Partition, r: ScanRange) -> BoxFut<'f, EntryStream>
    where
        's: 'f,
        'p: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::ScanEntries).on(p);
        self.around.scan(
            call,
            Attempt::new((p, r), move |(p, r)| inner.scan_entries(p, r)),
        )
    }

    fn batch<'s, 'f>(&'s self, ops: Vec<Operation>) -> BoxFut<'f, ()>
    where
        's: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::Batch).writes(batch_bytes(&ops));
        self.around
            .call(call, Attempt::new(ops, move |ops| inner.batch(ops)))
    }

    fn conditional_batch<'s, 'f>(
        &'s self,
        checks: Vec<Check>,
        ops: Vec<Operation>,
    ) -> BoxFut<'f, BatchOutcome>
    where
        's: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::ConditionalBatch).writes(batch_bytes(&ops));
        self.around.call(
            call,
            Attempt::new((checks, ops), move |(checks, ops)| {
                inner.conditional_batch(checks, ops)
            }),
        )
    }

    fn compare_and_swap<'s, 'p, 'k, 'e, 'n, 'f>(
        &'s self,
        p: &'p Partition,
        k: &'k [u8],
        e: Option<&'e [u8]>,
        n: Option<&'n [u8]>,
    ) -> BoxFut<'f, CasOutcome>
    where
        's: 'f,
        'p: 'f,
        'k: 'f,
        'e: 'f,
        'n: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let written = k.len() + n.map_or(0, <[u8]>::len);
        let call = self
            .info(Op::CompareAndSwap)
            .on(p)
            .key(k.len())
            .writes(written as u64);
        self.around.call(
            call,
            Attempt::new((p, k, e, n), move |(p, k, e, n)| {
                inner.compare_and_swap(p, k, e, n)
            }),
        )
    }

    fn watch<'s, 'p, 'x, 'f>(
        &'s self,
        p: &'p Partition,
        prefix: &'x [u8],
    ) -> BoxFut<'f, WatchStream>
    where
        's: 'f,
        'p: 'f,
        'x: 'f,
        Self: 'f,
    {
        let inner = &self.inner;
        let call = self.info(Op::Watch).on(p).key(prefix.len());
        self.around.watch(
            call,
            Attempt::new((p, prefix), move |(p, x)| inner.watch(p, x)),
        )
    }

    forward! {
        fn partition_size(p) -> u64 = PartitionSize;
        fn len(p) -> u64 = Len;
        fn is_empty(p) -> bool = IsEmpty;
        fn compact(p) -> () = Compact;
    }

    forward! {
        fn flush() -> () = Flush;
        fn status() -> Status = Status;
        fn close() -> () = Close;
    }
}
