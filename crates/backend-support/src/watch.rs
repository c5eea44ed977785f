//! Per-partition broadcast of committed writes.

use std::collections::HashMap;

use backend_api::{Bytes, Partition, WatchEvent, WatchStream};
use futures_util::StreamExt;
use parking_lot::RwLock;
use tokio::sync::broadcast;

/// Default number of events a watcher may fall behind before it gets `Lagged`.
pub const DEFAULT_WATCH_CAPACITY: usize = 4096;

/// Fans committed writes out to watchers of each partition.
///
/// A backend calls [`publish`](Self::publish) for every put and delete, after the write
/// is committed and in commit order (while still holding whatever serialises writes to
/// that key). Publishing never waits: a watcher more than `capacity` events behind loses
/// the oldest and receives [`WatchEvent::Lagged`] with the number lost (counting every
/// event of the partition, not only those under its prefix).
pub struct WatchHub {
    capacity: usize,
    channels: RwLock<HashMap<Partition, broadcast::Sender<WatchEvent>>>,
}

impl WatchHub {
    /// A hub whose watchers may fall `capacity` events behind.
    pub fn new(capacity: usize) -> Self {
        WatchHub {
            capacity: capacity.max(1),
            channels: RwLock::new(HashMap::new()),
        }
    }

    /// Streams every event of `partition` published from now on under `prefix`.
    pub fn subscribe(&self, partition: &Partition, prefix: &[u8]) -> WatchStream {
        let receiver = {
            let mut channels = self.channels.write();
            channels.retain(|_, sender| sender.receiver_count() > 0);
            channels
                .entry(partition.clone())
                .or_insert_with(|| broadcast::channel(self.capacity).0)
                .subscribe()
        };
        let prefix = Bytes::copy_from_slice(prefix);
        futures_util::stream::unfold(receiver, move |mut receiver| {
            let prefix = prefix.clone();
            async move {
                loop {
                    match receiver.recv().await {
                        Ok(event) if matches_prefix(&event, &prefix) => {
                            return Some((Ok(event), receiver));
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            return Some((Ok(WatchEvent::Lagged(n)), receiver));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        })
        .boxed()
    }

    /// True when `partition` has at least one watcher; lets a backend skip building
    /// events nobody reads.
    pub fn is_watched(&self, partition: &Partition) -> bool {
        let channels = self.channels.read();
        !channels.is_empty()
            && channels
                .get(partition)
                .is_some_and(|sender| sender.receiver_count() > 0)
    }

    /// Delivers `event` to the watchers of `partition`. Never blocks.
    pub fn publish(&self, partition: &Partition, event: WatchEvent) {
        let channels = self.channels.read();
        if let Some(sender) = channels.get(partition) {
            let _ = sender.send(event);
        }
    }

    /// Ends every watch stream of `partition` (after it was dropped).
    pub fn close_partition(&self, partition: &Partition) {
        self.channels.write().remove(partition);
    }

    /// Ends every watch stream (on close).
    pub fn close_all(&self) {
        self.channels.write().clear();
    }
}

impl Default for WatchHub {
    fn default() -> Self {
        Self::new(DEFAULT_WATCH_CAPACITY)
    }
}

impl std::fmt::Debug for WatchHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHub")
            .field("capacity", &self.capacity)
            .field("partitions", &self.channels.read().len())
            .finish()
    }
}

fn matches_prefix(event: &WatchEvent, prefix: &[u8]) -> bool {
    match event {
        WatchEvent::Put { key, .. } | WatchEvent::Delete { key } => key.starts_with(prefix),
        WatchEvent::RangeDeleted { range } => range.overlaps_prefix(prefix),
        // Lagged, and kinds added later: the watcher decides.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &'static [u8]) -> WatchEvent {
        WatchEvent::Put {
            key: Bytes::from_static(key),
            value: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn filters_by_partition_and_prefix_in_order() {
        let hub = WatchHub::new(16);
        let a = Partition::new("a").unwrap();
        let b = Partition::new("b").unwrap();
        let mut watch = hub.subscribe(&a, b"x");
        assert!(hub.is_watched(&a) && !hub.is_watched(&b));
        hub.publish(&b, put(b"x1"));
        hub.publish(&a, put(b"y1"));
        hub.publish(&a, put(b"x1"));
        hub.publish(&a, put(b"x2"));
        hub.close_partition(&a);
        let events: Vec<_> = watch.by_ref().map(Result::unwrap).collect().await;
        assert_eq!(events, vec![put(b"x1"), put(b"x2")]);
    }

    #[tokio::test]
    async fn a_slow_watcher_gets_lagged_and_publishers_never_wait() {
        let hub = WatchHub::new(4);
        let a = Partition::new("a").unwrap();
        let mut watch = hub.subscribe(&a, b"");
        for _ in 0..100 {
            hub.publish(&a, put(b"k"));
        }
        assert_eq!(watch.next().await.unwrap().unwrap(), WatchEvent::Lagged(96));
        assert_eq!(watch.next().await.unwrap().unwrap(), put(b"k"));
    }
}
