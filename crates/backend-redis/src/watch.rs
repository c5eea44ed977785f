//! Watch across processes on one server: one dedicated pub/sub connection per `watch`
//! call, subscribed to the partition's channel before the call returns (the cluster's
//! sharded subscription is `sharded`, sharing this queue).
//!
//! A task drains the connection into a bounded queue of `watch_capacity` events, so
//! neither the server nor the writers ever wait for a slow watcher. When the queue is
//! full the oldest event is dropped and counted; the count is handed over as one
//! `WatchEvent::Lagged(n)` ahead of the events still queued (the newest are kept).
//! If the connection ends without us asking (the server
//! dropped the subscriber for exceeding `client-output-buffer-limit pubsub`, the server
//! died, the network failed), the stream yields `Error::Unavailable` and ends: events
//! may have been missed, and it never goes silent without saying so.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backend_api::{Bytes, Error, Result, WatchEvent, WatchStream};
use futures_util::StreamExt;
use tokio::sync::{Notify, oneshot};

use crate::error::{self, Server};
use crate::event::{self, Decoded};

/// Opens the subscription; returns once the server confirmed it.
pub(crate) async fn subscribe(
    client: &redis::Client,
    channel: Vec<u8>,
    prefix: Bytes,
    capacity: usize,
    server: &Server,
    deadline: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<WatchStream> {
    let pubsub = within(server, deadline, async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        Ok(pubsub)
    })
    .await?;
    let mut messages = pubsub.into_on_message();
    let (queue, guard, mut gone) = queue(capacity);
    let feed = queue.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        feed.push(Err(Error::unavailable(
                            "the watch connection ended (server gone, or it dropped this \
                             subscriber for falling behind: client-output-buffer-limit \
                             pubsub); events may have been missed, watch again",
                            None,
                        )));
                        break;
                    };
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    if deliver(&feed, payload, &prefix) {
                        break;
                    }
                }
                _ = &mut gone => break,
                _ = shutdown.changed() => break,
            }
        }
        feed.end();
    });
    Ok(stream(queue, guard))
}

/// Opens a watch's connection and subscription (`connect`) to `server` within
/// `deadline`, mapping its error (which then names the server).
pub(crate) async fn within<T>(
    server: &Server,
    deadline: Duration,
    connect: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(deadline, connect).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(err)) => Err(server.map(err, "watch", deadline)),
        Err(_) => Err(error::timeout_error("watch", deadline)),
    }
}

/// A watcher's queue, the guard its stream holds, and the receiver that tells the
/// connection task the stream was dropped.
pub(crate) fn queue(capacity: usize) -> (Arc<Queue>, oneshot::Sender<()>, oneshot::Receiver<()>) {
    let (guard, gone) = oneshot::channel::<()>();
    (Arc::new(Queue::new(capacity)), guard, gone)
}

/// The watcher's stream over `queue`; dropping it drops `guard`, ending the task.
pub(crate) fn stream(queue: Arc<Queue>, guard: oneshot::Sender<()>) -> WatchStream {
    futures_util::stream::unfold((queue, guard), |(queue, guard)| async move {
        queue.pop().await.map(|item| (item, (queue, guard)))
    })
    .boxed()
}

/// Queues the events of one message under `prefix`: one write's records, or a whole
/// batch's for this partition, in commit order. True when the watch ends (the
/// partition was dropped, or the message was malformed).
pub(crate) fn deliver(feed: &Queue, payload: Bytes, prefix: &[u8]) -> bool {
    for record in event::decode(payload) {
        match record {
            Ok(Decoded::Dropped) => return true,
            Ok(Decoded::Event(event)) => {
                if matches_prefix(&event, prefix) {
                    feed.push(Ok(event));
                }
            }
            Err(err) => {
                feed.push(Err(err));
                return true;
            }
        }
    }
    false
}

/// The events waiting for one watcher: at most `capacity`; when full, the oldest is
/// dropped and counted, and the count is handed out as one `Lagged(n)` ahead of what
/// is left (so the newest events, a watcher's latest view, are kept). Writers and the
/// connection task never wait for the watcher.
pub(crate) struct Queue {
    capacity: usize,
    state: Mutex<State>,
    ready: Notify,
}

#[derive(Default)]
struct State {
    items: VecDeque<Result<WatchEvent>>,
    /// Events dropped since the watcher last took one.
    lost: u64,
    /// No more items will come.
    ended: bool,
}

impl Queue {
    fn new(capacity: usize) -> Self {
        Queue {
            capacity,
            state: Mutex::new(State::default()),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way
        // that matters (each field is updated in one step), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `item`, dropping the oldest when full.
    pub(crate) fn push(&self, item: Result<WatchEvent>) {
        {
            let mut state = self.lock();
            if state.items.len() >= self.capacity {
                match state.items.pop_front() {
                    Some(Ok(WatchEvent::Lagged(n))) => state.lost += n,
                    Some(_) => state.lost += 1,
                    None => {}
                }
            }
            state.items.push_back(item);
        }
        self.ready.notify_one();
    }

    /// No more items: the stream ends once the watcher has taken what is queued.
    pub(crate) fn end(&self) {
        self.lock().ended = true;
        self.ready.notify_one();
    }

    /// The next item: `Lagged(n)` first when events were dropped, `None` at the end.
    async fn pop(&self) -> Option<Result<WatchEvent>> {
        loop {
            {
                let mut state = self.lock();
                if state.lost > 0 {
                    let lost = std::mem::take(&mut state.lost);
                    return Some(Ok(WatchEvent::Lagged(lost)));
                }
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if state.ended {
                    return None;
                }
            }
            // `notify_one` keeps a permit when nobody waits, so a push between the
            // check above and this wait is not missed.
            self.ready.notified().await;
        }
    }
}

fn matches_prefix(event: &WatchEvent, prefix: &[u8]) -> bool {
    match event {
        WatchEvent::Put { key, .. } | WatchEvent::Delete { key } => key.starts_with(prefix),
        WatchEvent::RangeDeleted { range } => range.overlaps_prefix(prefix),
        _ => true,
    }
}
