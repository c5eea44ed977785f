//! Calls through `Arc<dyn StorageBackend>` and `Box<dyn StorageBackend>` reach the backend
//! and cost no more allocations than calls through `&dyn StorageBackend`.
//!
//! Regression: the forwarding impls used to be `#[async_trait]` methods that awaited the
//! inner future, so every call through an `Arc` boxed a second future (~100 ns per call,
//! seen in the adapter benches).
// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to the
// system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use backend_api::{
    Bytes, Capabilities, Error, KvStream, Partition, Result, ScanRange, Status, StorageBackend,
};

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call forwards unchanged to `System`; the counter is a thread-local `Cell`
// (const-initialised, so touching it never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Answers every call at once, from fixed data.
struct Fixed;

#[async_trait]
impl StorageBackend for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn create_partition(&self, _: &Partition) -> Result<()> {
        Ok(())
    }
    async fn drop_partition(&self, p: &Partition) -> Result<()> {
        Err(Error::PartitionNotFound(p.to_string()))
    }
    async fn partition_exists(&self, _: &Partition) -> Result<bool> {
        Ok(true)
    }
    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        Ok(Vec::new())
    }
    async fn get(&self, _: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        Ok((key == b"present").then(|| Bytes::from_static(b"value")))
    }
    async fn put(&self, _: &Partition, _: &[u8], _: &[u8]) -> Result<()> {
        Ok(())
    }
    async fn delete(&self, _: &Partition, _: &[u8]) -> Result<()> {
        Ok(())
    }
    async fn scan(&self, _: &Partition, _: ScanRange) -> Result<KvStream> {
        Err(Error::unsupported("fixed", "scan"))
    }
    async fn partition_size(&self, _: &Partition) -> Result<u64> {
        Ok(7)
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

/// Polls a future that is ready at once.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("Fixed never waits"),
    }
}

/// Allocations made by `f` on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn calls_through_pointers_reach_the_backend() {
    let p = Partition::new("p").unwrap();
    let arc: Arc<dyn StorageBackend> = Arc::new(Fixed);
    let boxed: Box<dyn StorageBackend> = Box::new(Fixed);
    for backend in [&arc as &dyn StorageBackend, &boxed] {
        assert_eq!(backend.name(), "fixed");
        assert_eq!(
            ready(backend.get(&p, b"present")).unwrap(),
            Some(Bytes::from_static(b"value"))
        );
        assert_eq!(ready(backend.get(&p, b"absent")).unwrap(), None);
        assert_eq!(ready(backend.partition_size(&p)).unwrap(), 7);
        assert!(matches!(
            ready(backend.drop_partition(&p)),
            Err(Error::PartitionNotFound(name)) if name == "p"
        ));
    }
}

#[test]
fn arc_and_box_calls_allocate_no_second_future() {
    let p = Partition::new("p").unwrap();
    let arc: Arc<dyn StorageBackend> = Arc::new(Fixed);
    let boxed: Box<dyn StorageBackend> = Box::new(Fixed);
    let direct: &dyn StorageBackend = &*arc;

    let (_, via_dyn) = allocations(|| ready(direct.get(&p, b"absent")));
    let (_, via_arc) = allocations(|| ready(arc.get(&p, b"absent")));
    let (_, via_box) = allocations(|| ready(boxed.get(&p, b"absent")));
    assert_eq!(via_dyn, 1, "one boxed future per call through &dyn");
    assert_eq!(via_arc, via_dyn, "Arc<dyn StorageBackend>::get");
    assert_eq!(via_box, via_dyn, "Box<dyn StorageBackend>::get");

    let (_, put_dyn) = allocations(|| ready(direct.put(&p, b"k", b"v")));
    let (_, put_arc) = allocations(|| ready(arc.put(&p, b"k", b"v")));
    assert_eq!(put_arc, put_dyn, "Arc<dyn StorageBackend>::put");
}
