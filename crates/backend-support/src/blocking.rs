//! A blocking engine iterator as an async stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use backend_api::{Bytes, KvStream, Result, Stream};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;

/// Items a blocking scan sends across in one go.
///
/// Every chunk costs a hand-off between threads (a wake-up, often a context switch,
/// which on a busy machine means waiting for a core), so chunks are large: a scan of
/// 1,000 pairs crosses once.
pub const SCAN_CHUNK: usize = 1024;

/// Chunks in flight between the producer and the consumer.
const CHUNKS_IN_FLIGHT: usize = 2;

/// Runs `produce` on tokio's blocking pool and streams what it emits.
///
/// `produce` gets an `emit` function; it calls it with each item in order and stops as
/// soon as `emit` returns `false` (the stream was dropped). Items travel in chunks of
/// at most [`SCAN_CHUNK`], at most two chunks ahead of the consumer, so memory stays
/// bounded however large the range. An `Err` item ends the stream after it is delivered.
///
/// Must be called from within a tokio runtime.
pub fn blocking_stream<F>(produce: F) -> KvStream
where
    F: FnOnce(&mut dyn FnMut(Result<(Bytes, Bytes)>) -> bool) + Send + 'static,
{
    blocking_stream_with(produce, std::convert::identity)
}

/// Like [`blocking_stream`], but the producer emits engine items of any type `T` and
/// `convert` turns each into the stream's item (a pair for `scan`, an
/// [`Entry`](backend_api::Entry) for `scan_entries`) on the consumer's side, as it is
/// polled.
///
/// For engines whose items own their buffers (sled's `IVec`), this keeps the
/// allocations of the [`Bytes`] handed to the caller on the thread that frees them,
/// instead of allocating on the blocking thread and freeing on the async one.
pub fn blocking_stream_with<T, O, F, C>(produce: F, convert: C) -> BoxStream<'static, Result<O>>
where
    T: Send + Unpin + 'static,
    O: Send + 'static,
    F: FnOnce(&mut dyn FnMut(Result<T>) -> bool) + Send + 'static,
    C: FnMut(T) -> O + Send + Unpin + 'static,
{
    let (tx, rx) = mpsc::channel::<Vec<Result<T>>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(SCAN_CHUNK);
        let mut open = true;
        let mut emit = |item: Result<T>| {
            if !open {
                return false;
            }
            let failed = item.is_err();
            chunk.push(item);
            if chunk.len() >= SCAN_CHUNK || failed {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(SCAN_CHUNK));
                open = tx.blocking_send(full).is_ok() && !failed;
            }
            open
        };
        produce(&mut emit);
        if open && !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
    });
    Chunks {
        rx,
        chunk: Vec::new().into_iter(),
        convert,
        done: false,
    }
    .boxed()
}

/// The consumer's side: drains the current chunk, then waits for the next; ends after
/// the first error or when the producer is done.
struct Chunks<T, C> {
    rx: mpsc::Receiver<Vec<Result<T>>>,
    chunk: std::vec::IntoIter<Result<T>>,
    convert: C,
    done: bool,
}

impl<T, O, C> Stream for Chunks<T, C>
where
    T: Unpin,
    C: FnMut(T) -> O + Unpin,
{
    type Item = Result<O>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.chunk.next() {
                Some(Ok(item)) => return Poll::Ready(Some(Ok((this.convert)(item)))),
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => match ready!(this.rx.poll_recv(cx)) {
                    Some(chunk) => this.chunk = chunk.into_iter(),
                    None => this.done = true,
                },
            }
        }
    }
}

/// A chunk of pairs packed into one buffer: keys and values back to back.
struct Packed {
    bytes: Vec<u8>,
    /// Key and value length of each pair, in order.
    lens: Vec<(usize, usize)>,
    /// An error that ends the stream after the pairs before it.
    error: Option<backend_api::Error>,
}

impl Packed {
    fn with_capacity(pairs: usize) -> Self {
        Packed {
            bytes: Vec::new(),
            lens: Vec::with_capacity(pairs),
            error: None,
        }
    }
}

/// Bytes after which a packed chunk is sent whatever its count of pairs, so a chunk
/// stays small with large values (a single pair may still exceed it).
const PACKED_BYTES: usize = 1 << 20;

/// Like [`blocking_stream`], for engines whose iterators lend their keys and values
/// (`&[u8]` valid until the next step): `produce` emits borrowed pairs, which are
/// copied into one buffer per chunk, and each pair becomes two [`Bytes`] on the
/// consumer's side as it is polled.
///
/// Same work as copying each pair into `Bytes` on the blocking thread (one copy per
/// key and value reaches the caller), without one allocation per key and value made on
/// the blocking thread and freed on another: the pair's allocations are made on the
/// thread that reads, and usually drops, them. A chunk holds at most [`SCAN_CHUNK`]
/// pairs and is sent once it holds 1 MiB; at most two chunks wait for the consumer.
/// An `Err` ends the stream after the pairs emitted before it.
pub fn blocking_copy_stream<F>(produce: F) -> KvStream
where
    F: FnOnce(&mut dyn FnMut(Result<(&[u8], &[u8])>) -> bool) + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Packed>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut chunk = Packed::with_capacity(SCAN_CHUNK);
        let mut open = true;
        let mut emit = |item: Result<(&[u8], &[u8])>| {
            if !open {
                return false;
            }
            let failed = match item {
                Ok((key, value)) => {
                    chunk.bytes.extend_from_slice(key);
                    chunk.bytes.extend_from_slice(value);
                    chunk.lens.push((key.len(), value.len()));
                    false
                }
                Err(e) => {
                    chunk.error = Some(e);
                    true
                }
            };
            if chunk.lens.len() >= SCAN_CHUNK || chunk.bytes.len() >= PACKED_BYTES || failed {
                let full = std::mem::replace(&mut chunk, Packed::with_capacity(SCAN_CHUNK));
                open = tx.blocking_send(full).is_ok() && !failed;
            }
            open
        };
        produce(&mut emit);
        if open && !chunk.lens.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
    });
    Unpack {
        rx,
        chunk: Packed::with_capacity(0),
        next: 0,
        offset: 0,
        done: false,
    }
    .boxed()
}

/// The consumer's side of [`blocking_copy_stream`].
struct Unpack {
    rx: mpsc::Receiver<Packed>,
    chunk: Packed,
    /// Index of the next pair in `chunk.lens`, and its offset in `chunk.bytes`.
    next: usize,
    offset: usize,
    done: bool,
}

impl Stream for Unpack {
    type Item = Result<(Bytes, Bytes)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(&(key_len, value_len)) = this.chunk.lens.get(this.next) {
                let key_end = this.offset + key_len;
                let value_end = key_end + value_len;
                let bytes = &this.chunk.bytes;
                let key = Bytes::copy_from_slice(&bytes[this.offset..key_end]);
                let value = if value_len == 0 {
                    Bytes::new()
                } else {
                    Bytes::copy_from_slice(&bytes[key_end..value_end])
                };
                this.next += 1;
                this.offset = value_end;
                return Poll::Ready(Some(Ok((key, value))));
            }
            if let Some(e) = this.chunk.error.take() {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            match ready!(this.rx.poll_recv(cx)) {
                Some(chunk) => {
                    this.chunk = chunk;
                    this.next = 0;
                    this.offset = 0;
                }
                None => this.done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use backend_api::Error;

    use super::*;

    fn pair(i: usize) -> Result<(Bytes, Bytes)> {
        Ok((Bytes::from(i.to_be_bytes().to_vec()), Bytes::new()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_everything_in_order() {
        let stream = blocking_stream(|emit| {
            for i in 0..5_000 {
                if !emit(pair(i)) {
                    break;
                }
            }
        });
        let keys: Vec<_> = stream.map(|r| r.unwrap().0).collect().await;
        assert_eq!(keys.len(), 5_000);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    /// Takes one item, drops `stream`, and checks that its producer noticed: it ended
    /// (`done`) within 10 s, having produced at most a few chunks past what was taken.
    async fn assert_dropping_stops_the_producer<S: Stream + Unpin>(
        mut stream: S,
        produced: &AtomicUsize,
        done: tokio::sync::oneshot::Receiver<()>,
    ) {
        assert!(stream.next().await.is_some());
        drop(stream);
        tokio::time::timeout(std::time::Duration::from_secs(10), done)
            .await
            .expect("producer stopped")
            .unwrap();
        assert!(produced.load(Ordering::SeqCst) <= SCAN_CHUNK * (CHUNKS_IN_FLIGHT + 3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_stream_stops_the_producer() {
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = produced.clone();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let stream = blocking_stream(move |emit| {
            for i in 0..1_000_000 {
                counter.fetch_add(1, Ordering::SeqCst);
                if !emit(pair(i)) {
                    break;
                }
            }
            let _ = done_tx.send(());
        });
        assert_dropping_stops_the_producer(stream, &produced, done_rx).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_error_ends_the_stream() {
        let stream = blocking_stream(|emit| {
            emit(pair(1));
            emit(Err(Error::corruption("bad record")));
            emit(pair(2));
        });
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copy_stream_unpacks_every_pair_and_stops_at_an_error() {
        let stream = blocking_copy_stream(|emit| {
            for i in 0u32..3_000 {
                let key = i.to_be_bytes();
                let value = vec![i as u8; (i % 7) as usize];
                if !emit(Ok((&key, &value))) {
                    return;
                }
            }
            emit(Err(Error::corruption("bad record")));
            emit(Ok((b"never", b"")));
        });
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 3_001);
        for (i, item) in items[..3_000].iter().enumerate() {
            let (key, value) = item.as_ref().unwrap();
            assert_eq!(&key[..], &(i as u32).to_be_bytes());
            assert_eq!(&value[..], &vec![i as u8; i % 7][..]);
        }
        assert!(items[3_000].is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_a_copy_stream_stops_the_producer() {
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = produced.clone();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let stream = blocking_copy_stream(move |emit| {
            for i in 0u64..1_000_000 {
                counter.fetch_add(1, Ordering::SeqCst);
                if !emit(Ok((&i.to_be_bytes(), b"v"))) {
                    break;
                }
            }
            let _ = done_tx.send(());
        });
        assert_dropping_stops_the_producer(stream, &produced, done_rx).await;
    }
}
