//! Watch across processes: one dedicated pub/sub connection per `watch` call,
//! subscribed to the partition's channel before the call returns.
//!
//! A task drains the connection into a bounded queue of `watch_capacity` events, so
//! neither the server nor the writers ever wait for a slow watcher. Events that do not
//! fit are counted and handed over as one `WatchEvent::Lagged(n)` as soon as there is
//! room, ahead of any later event. If the connection ends without us asking (the server
//! dropped the subscriber for exceeding `client-output-buffer-limit pubsub`, the server
//! died, the network failed), the stream yields `Error::Unavailable` and ends: events
//! may have been missed, and it never goes silent without saying so.

use std::time::Duration;

use backend_api::{Bytes, Error, Result, WatchEvent, WatchStream};
use futures_util::StreamExt;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::error;
use crate::event::{self, Decoded};

/// Opens the subscription; returns once the server confirmed it.
pub(crate) async fn subscribe(
    client: &redis::Client,
    channel: Vec<u8>,
    prefix: Bytes,
    capacity: usize,
    deadline: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<WatchStream> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    let pubsub = match tokio::time::timeout(deadline, connect).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(err)) => return Err(error::map(err, "watch", deadline)),
        Err(_) => return Err(error::timeout("watch", deadline)),
    };
    let mut messages = pubsub.into_on_message();
    let (tx, rx) = mpsc::channel::<Result<WatchEvent>>(capacity);
    tokio::spawn(async move {
        let mut lost: u64 = 0;
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        let _ = tx
                            .send(Err(Error::Unavailable {
                                detail: "the watch connection ended (server gone, or it dropped this \
                                         subscriber for falling behind: client-output-buffer-limit \
                                         pubsub); events may have been missed, watch again"
                                    .into(),
                            }))
                            .await;
                        break;
                    };
                    // One message holds one write's records, or a whole batch's for
                    // this partition, in commit order.
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    let mut end = false;
                    for record in event::decode(payload) {
                        match record {
                            Ok(Decoded::Dropped) => end = true,
                            Ok(Decoded::Event(event)) => {
                                if matches_prefix(&event, &prefix)
                                    && !deliver(&tx, &mut lost, Ok(event))
                                {
                                    end = true;
                                }
                            }
                            Err(err) => {
                                let _ = tx.send(Err(err)).await;
                                end = true;
                            }
                        }
                        if end {
                            break;
                        }
                    }
                    if end {
                        break;
                    }
                }
                permit = tx.reserve(), if lost > 0 => {
                    let Ok(permit) = permit else { break };
                    permit.send(Ok(WatchEvent::Lagged(lost)));
                    lost = 0;
                }
                _ = tx.closed() => break,
                _ = shutdown.changed() => break,
            }
        }
    });
    Ok(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed())
}

/// Queues `item` without waiting; false once the watcher is gone.
fn deliver(
    tx: &mpsc::Sender<Result<WatchEvent>>,
    lost: &mut u64,
    item: Result<WatchEvent>,
) -> bool {
    if *lost > 0 {
        match tx.try_send(Ok(WatchEvent::Lagged(*lost))) {
            Ok(()) => *lost = 0,
            Err(TrySendError::Full(_)) => {
                *lost += 1;
                return true;
            }
            Err(TrySendError::Closed(_)) => return false,
        }
    }
    match tx.try_send(item) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            *lost += 1;
            true
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

fn matches_prefix(event: &WatchEvent, prefix: &[u8]) -> bool {
    match event {
        WatchEvent::Put { key, .. } | WatchEvent::Delete { key } => key.starts_with(prefix),
        WatchEvent::Lagged(_) => true,
    }
}
