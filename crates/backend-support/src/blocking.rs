//! A blocking engine iterator as an async stream.

use backend_api::{Bytes, KvStream, Result};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Items a blocking scan sends across in one go.
pub const SCAN_CHUNK: usize = 512;

/// Chunks in flight between the producer and the consumer.
const CHUNKS_IN_FLIGHT: usize = 2;

/// Runs `produce` on tokio's blocking pool and streams what it emits.
///
/// `produce` gets an `emit` function; it calls it with each item in order and stops as
/// soon as `emit` returns `false` (the stream was dropped). Items travel in chunks of
/// [`SCAN_CHUNK`], at most two chunks ahead of the consumer, so memory stays bounded
/// however large the range. An `Err` item ends the stream after it is delivered.
///
/// Must be called from within a tokio runtime.
pub fn blocking_stream<F>(produce: F) -> KvStream
where
    F: FnOnce(&mut dyn FnMut(Result<(Bytes, Bytes)>) -> bool) + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Vec<Result<(Bytes, Bytes)>>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(SCAN_CHUNK);
        let mut open = true;
        let mut emit = |item: Result<(Bytes, Bytes)>| {
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
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (futures_util::stream::iter(chunk), rx))
    });
    let mut failed = false;
    chunks
        .flatten()
        .take_while(move |item| {
            let keep = !failed;
            failed |= item.is_err();
            std::future::ready(keep)
        })
        .boxed()
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
