//! Watch on a Redis Cluster: sharded pub/sub. The write scripts `SPUBLISH` on the
//! partition's channel, whose name carries the partition's hash tag, so the message
//! stays in that slot's shard and reaches subscribers of its master (and replicas)
//! whichever node the writer or the watcher first connected to.
//!
//! Each `watch` opens its own cluster connection (RESP3, pushes delivered to the watch's
//! task) and `SSUBSCRIBE`s through it: the cluster client sends it to the slot's master,
//! following `MOVED`. The stream survives the slot's master changing: when the
//! subscription is lost (the server unsubscribes us because the slot moved, after a
//! `CLUSTER FAILOVER`; or a connection of the cluster client drops, e.g. a master was
//! killed) the stream yields one `Error::Unavailable` saying events in between may be
//! missed (how many is unknown, so not `Lagged`), then subscribes again, retrying until
//! the slot's new master accepts, and goes on delivering. It ends only when the
//! partition is dropped, the handle is closed or the stream is dropped.

use std::time::Duration;

use backend_api::{Bytes, Error, Result, WatchStream};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use crate::error::Server;
use crate::watch::{self, Queue};

/// How long to wait between two attempts to subscribe again after a gap.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(100);

/// Opens the sharded subscription through a connection built from `builder` (the
/// handle's cluster settings); returns once the slot's master confirmed it.
pub(crate) async fn subscribe(
    builder: ClusterClientBuilder,
    channel: Vec<u8>,
    prefix: Bytes,
    capacity: usize,
    server: &Server,
    deadline: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<WatchStream> {
    let (pushes, mut received) = mpsc::unbounded_channel::<PushInfo>();
    let mut conn = watch::within(server, deadline, async {
        let client = builder
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes)
            .build()?;
        let mut conn = client.get_async_connection().await?;
        conn.ssubscribe(&channel).await?;
        Ok(conn)
    })
    .await?;
    let (queue, guard, mut gone) = watch::queue(capacity);
    let feed = queue.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                push = received.recv() => {
                    let Some(push) = push else {
                        feed.push(Err(Error::unavailable(
                            "the watch's cluster connection ended; watch again",
                            None,
                        )));
                        break;
                    };
                    match push.kind {
                        PushKind::SMessage => {
                            if let Some(payload) = payload(&push, &channel)
                                && watch::deliver(&feed, payload, &prefix)
                            {
                                break;
                            }
                        }
                        PushKind::SUnsubscribe if names(&push, &channel) => {
                            gap(&feed, "the server ended the subscription (the slot's master changed)");
                            if !resubscribe(&mut conn, &channel, deadline, &mut shutdown).await {
                                break;
                            }
                        }
                        PushKind::Disconnection => {
                            gap(&feed, "a connection of the cluster client dropped");
                            if !resubscribe(&mut conn, &channel, deadline, &mut shutdown).await {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                _ = &mut gone => break,
                _ = shutdown.changed() => break,
            }
        }
        feed.end();
    });
    Ok(watch::stream(queue, guard))
}

/// Tells the watcher that events may have been missed.
fn gap(feed: &Queue, why: &str) {
    feed.push(Err(Error::unavailable(
        format!(
            "watch: {why}; subscribing again, events published in between may be missed \
             (the stream goes on)"
        ),
        None,
    )));
}

/// `SSUBSCRIBE`s again until the slot's master confirms; false when the handle was
/// closed meanwhile.
async fn resubscribe(
    conn: &mut ClusterConnection,
    channel: &[u8],
    deadline: Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    loop {
        if *shutdown.borrow() {
            return false;
        }
        if let Ok(Ok(())) = tokio::time::timeout(deadline, conn.ssubscribe(channel)).await {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(RESUBSCRIBE_PAUSE) => {}
            _ = shutdown.changed() => return false,
        }
    }
}

/// True when the push's first element is `channel`.
fn names(push: &PushInfo, channel: &[u8]) -> bool {
    matches!(push.data.first(), Some(Value::BulkString(name)) if name == channel)
}

/// The message of an `smessage` push on `channel`.
fn payload(push: &PushInfo, channel: &[u8]) -> Option<Bytes> {
    match push.data.get(1) {
        Some(Value::BulkString(bytes)) if names(push, channel) => {
            Some(Bytes::copy_from_slice(bytes))
        }
        _ => None,
    }
}
