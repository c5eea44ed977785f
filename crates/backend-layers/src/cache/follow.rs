//! Coherence with other handles for backends with `cross_process_watch`: the cache
//! watches every partition it fills from and drops the entries other writers change.

use std::collections::HashMap;
use std::sync::Arc;

use backend_api::{KeyRange, Partition, StorageBackend, WatchEvent};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::state::{After, EntryKey, State};

/// One watch task per followed partition.
#[derive(Default)]
pub(crate) struct Follower {
    tasks: Mutex<HashMap<Partition, JoinHandle<()>>>,
}

impl Follower {
    /// True once `p` is watched, so a value read from now on that another handle
    /// changes later will be dropped. Subscribes on first use; false (do not fill) if
    /// the watch cannot be opened.
    pub(crate) async fn follows(
        &self,
        inner: &Arc<dyn StorageBackend>,
        state: &Arc<State>,
        p: &Partition,
    ) -> bool {
        if self
            .tasks
            .lock()
            .get(p)
            .is_some_and(|task| !task.is_finished())
        {
            return true;
        }
        let Ok(stream) = inner.watch(p, b"").await else {
            return false;
        };
        let task = tokio::spawn(drain(stream, state.clone(), p.clone()));
        if let Some(old) = self.tasks.lock().insert(p.clone(), task) {
            old.abort();
        }
        true
    }

    /// Stops every watch.
    pub(crate) fn stop(&self) {
        for (_, task) in self.tasks.lock().drain() {
            task.abort();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Drops the entries each event changes; when the watch lags or ends, drops the whole
/// partition (what was missed is unknown).
async fn drain(mut stream: backend_api::WatchStream, state: Arc<State>, p: Partition) {
    let forget = |keys: Vec<EntryKey>, range: Option<Option<KeyRange>>| {
        let ranges: Vec<_> = range.map(|r| (p.clone(), r)).into_iter().collect();
        state
            .begin(keys, !ranges.is_empty())
            .finish(None, |_| After::Forget, &ranges);
    };
    while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        match item {
            Ok(WatchEvent::Put { key, .. } | WatchEvent::Delete { key }) => {
                let key = EntryKey {
                    partition: p.clone(),
                    key,
                };
                forget(vec![key], None);
            }
            Ok(WatchEvent::RangeDeleted { range }) => forget(Vec::new(), Some(Some(range))),
            _ => forget(Vec::new(), Some(None)),
        }
    }
    forget(Vec::new(), Some(None));
}
