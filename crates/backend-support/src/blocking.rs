//! A blocking engine iterator as an async stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use backend_api::{Bytes, KvStream, Result, Stream};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Largest number of items a blocking scan sends across in one go.
pub const SCAN_CHUNK: usize = 512;

/// Size of the first chunk: small, so the consumer starts (on its own thread) while the
/// producer is still filling the next one; chunks then double up to [`SCAN_CHUNK`].
const FIRST_CHUNK: usize = 64;

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
/// `convert` turns each into a pair on the consumer's side, as it is polled.
///
/// For engines whose items own their buffers (sled's `IVec`), this keeps the
/// allocations of the [`Bytes`] handed to the caller on the thread that frees them,
/// instead of allocating on the blocking thread and freeing on the async one.
pub fn blocking_stream_with<T, F, C>(produce: F, convert: C) -> KvStream
where
    T: Send + Unpin + 'static,
    F: FnOnce(&mut dyn FnMut(Result<T>) -> bool) + Send + 'static,
    C: FnMut(T) -> (Bytes, Bytes) + Send + Unpin + 'static,
{
    let (tx, rx) = mpsc::channel::<Vec<Result<T>>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut size = FIRST_CHUNK;
        let mut chunk = Vec::with_capacity(size);
        let mut open = true;
        let mut emit = |item: Result<T>| {
            if !open {
                return false;
            }
            let failed = item.is_err();
            chunk.push(item);
            if chunk.len() >= size || failed {
                size = (size * 2).min(SCAN_CHUNK);
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(size));
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

impl<T, C> Stream for Chunks<T, C>
where
    T: Unpin,
    C: FnMut(T) -> (Bytes, Bytes) + Unpin,
{
    type Item = Result<(Bytes, Bytes)>;

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_stream_stops_the_producer() {
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = produced.clone();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let mut stream = blocking_stream(move |emit| {
            for i in 0..1_000_000 {
                counter.fetch_add(1, Ordering::SeqCst);
                if !emit(pair(i)) {
                    break;
                }
            }
            let _ = done_tx.send(());
        });
        assert!(stream.next().await.is_some());
        drop(stream);
        tokio::time::timeout(std::time::Duration::from_secs(10), done_rx)
            .await
            .expect("producer stopped")
            .unwrap();
        assert!(produced.load(Ordering::SeqCst) <= SCAN_CHUNK * (CHUNKS_IN_FLIGHT + 3));
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
}
