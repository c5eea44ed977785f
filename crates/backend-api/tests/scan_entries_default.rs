//! The default `scan_entries`: the plain scan with `expires_at: None` for a backend that
//! cannot hold TTLs; `Unsupported` for one that can (it must answer natively).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use backend_api::{
    Bytes, Capabilities, Entry, Error, KvStream, Partition, Result, ScanRange, Status,
    StorageBackend, Stream,
};

/// Two fixed pairs; `ttl` says whether it claims the `ttl` capability.
struct Pairs {
    ttl: bool,
}

#[async_trait]
impl StorageBackend for Pairs {
    fn name(&self) -> &'static str {
        "pairs"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            ttl: self.ttl,
            ..Capabilities::default()
        }
    }
    async fn create_partition(&self, _: &Partition) -> Result<()> {
        Ok(())
    }
    async fn drop_partition(&self, _: &Partition) -> Result<()> {
        Ok(())
    }
    async fn partition_exists(&self, _: &Partition) -> Result<bool> {
        Ok(true)
    }
    async fn list_partitions(&self) -> Result<Vec<Partition>> {
        Ok(Vec::new())
    }
    async fn get(&self, _: &Partition, _: &[u8]) -> Result<Option<Bytes>> {
        Ok(None)
    }
    async fn put(&self, _: &Partition, _: &[u8], _: &[u8]) -> Result<()> {
        Ok(())
    }
    async fn delete(&self, _: &Partition, _: &[u8]) -> Result<()> {
        Ok(())
    }
    async fn scan(&self, p: &Partition, range: ScanRange) -> Result<KvStream> {
        if p.name() == "missing" {
            return Err(Error::PartitionNotFound(p.to_string()));
        }
        let pairs = [("a", "1"), ("b", "2")]
            .into_iter()
            .filter(move |(k, _)| range.contains(k.as_bytes()))
            .map(|(k, v)| Ok((Bytes::from(k), Bytes::from(v))));
        Ok(Box::pin(Iter(pairs)))
    }
    async fn partition_size(&self, _: &Partition) -> Result<u64> {
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

/// An iterator as a stream that is always ready.
struct Iter<I>(I);

impl<I: Iterator + Unpin> Stream for Iter<I> {
    type Item = I::Item;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next())
    }
}

/// Polls a future that is ready at once.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("Pairs never waits"),
    }
}

/// Every item of a stream that is always ready.
fn drain<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut items = Vec::new();
    while let Poll::Ready(Some(item)) = std::pin::Pin::new(&mut stream).poll_next(&mut cx) {
        items.push(item);
    }
    items
}

#[test]
fn without_ttl_the_default_is_the_scan_with_no_deadlines() {
    let p = Partition::new("p").unwrap();
    let arc: Arc<dyn StorageBackend> = Arc::new(Pairs { ttl: false });
    let entries = drain(ready(arc.scan_entries(&p, ScanRange::all())).unwrap());
    let entries: Vec<Entry> = entries.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        entries,
        vec![Entry::new("a", "1", None), Entry::new("b", "2", None)]
    );
    let entries = drain(ready(arc.scan_entries(&p, ScanRange::prefix("b"))).unwrap());
    assert_eq!(entries.len(), 1, "the range is passed on");
    let missing = Partition::new("missing").unwrap();
    assert!(matches!(
        ready(arc.scan_entries(&missing, ScanRange::all())),
        Err(Error::PartitionNotFound(_))
    ));
}

#[test]
fn with_ttl_the_default_refuses_rather_than_drop_deadlines() {
    let p = Partition::new("p").unwrap();
    let boxed: Box<dyn StorageBackend> = Box::new(Pairs { ttl: true });
    match ready(boxed.scan_entries(&p, ScanRange::all())) {
        Err(Error::Unsupported { backend, operation }) => {
            assert_eq!((backend, operation), ("pairs", "scan_entries"));
        }
        Err(other) => panic!("expected Unsupported, got {other}"),
        Ok(_) => panic!("expected Unsupported, got a stream"),
    }
}
