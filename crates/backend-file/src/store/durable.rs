//! Making written records durable: waiting for group commit, and the periodic sync of
//! `SyncPolicy::EveryMs`.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backend_api::Result;

use super::Store;

impl Store {
    /// Blocks until every record up to `seq` is durable (group commit).
    pub fn wait_durable(&self, seq: u64) -> Result<()> {
        self.commit.wait(seq, || {
            let w = self.writer.lock();
            (w.unsynced_files(), w.last_seq)
        })
    }

    /// Makes everything written so far durable.
    pub fn sync_written(&self) -> Result<()> {
        let last = self.writer.lock().last_seq;
        if last == 0 || self.commit.synced() >= last {
            return self.commit.check();
        }
        self.wait_durable(last)
    }
}

/// The loop of the `SyncPolicy::EveryMs(ms)` thread: syncs what was written every `ms`
/// milliseconds until the store is closed or dropped.
pub(crate) fn periodic_sync(store: Weak<Store>, ms: u64) {
    loop {
        std::thread::sleep(Duration::from_millis(ms));
        let Some(store) = store.upgrade() else { return };
        if store.closed.load(Ordering::Acquire) {
            return;
        }
        // A failure poisons the store; writers see it.
        let _ = store.sync_written();
    }
}
