//! Group commit: writers waiting for durability share one `fdatasync`, and the
//! poisoned state that follows a write or sync whose effect is unknown.
//!
//! A writer that needs sequence number `s` durable becomes the leader if no sync is
//! running, syncs every file that may hold unsynced records (sealed files whose
//! background sync has not finished, then the active file) up to everything written so
//! far, and wakes everyone it covered; writers arriving meanwhile wait and are covered
//! by the next leader.
//!
//! A failed `fdatasync` is never retried as if a later success covered the writes
//! before it (Linux may have dropped those dirty pages: the PostgreSQL "fsyncgate"
//! lesson): it poisons the store, every later write and durability wait fails with
//! [`Error::Poisoned`], and only a reopen (which re-reads what is really on disk)
//! clears it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use backend_api::{Error, Result};

use crate::error::poisoned;
use crate::files::Handle;

/// See the module docs.
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<SyncState>,
    done: Condvar,
    /// Mirrors `SyncState::synced`, so a covered writer need not take the mutex.
    synced: AtomicU64,
    /// Set once `SyncState::failed` is, so the write path checks an atomic.
    poisoned: AtomicBool,
}

#[derive(Default)]
struct SyncState {
    synced: u64,
    leader: bool,
    waiters: usize,
    failed: Option<String>,
    syncs: u64,
}

impl GroupCommit {
    /// Records that everything up to `seq` is durable.
    pub fn mark_synced(&self, seq: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.synced = s.synced.max(seq);
        self.synced.store(s.synced, Ordering::Release);
        if s.waiters > 0 {
            self.done.notify_all();
        }
    }

    /// The highest sequence number known durable.
    pub fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Number of fdatasync rounds made by leaders.
    pub fn syncs(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).syncs
    }

    /// Blocks until `seq` is durable. `snapshot` returns the files that may hold
    /// unsynced records and the last sequence number written to them (taken under the
    /// writer lock). The leader whose sync fails gets that I/O error; everyone else,
    /// then and later, [`Error::Poisoned`].
    pub fn wait(&self, seq: u64, snapshot: impl Fn() -> (Vec<Arc<Handle>>, u64)) -> Result<()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(why) = &s.failed {
                return Err(poisoned(why));
            }
            if s.synced >= seq {
                return Ok(());
            }
            if s.leader {
                s.waiters += 1;
                s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
                s.waiters -= 1;
                continue;
            }
            s.leader = true;
            drop(s);
            let (files, target) = snapshot();
            let result = files.iter().try_for_each(|f| f.sync_data());
            s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.leader = false;
            s.syncs += 1;
            let outcome = match result {
                Ok(()) => {
                    s.synced = s.synced.max(target);
                    self.synced.store(s.synced, Ordering::Release);
                    Ok(())
                }
                Err(e) => {
                    s.failed.get_or_insert_with(|| e.to_string());
                    self.poisoned.store(true, Ordering::Release);
                    Err(e)
                }
            };
            if s.waiters > 0 {
                self.done.notify_all();
            }
            outcome?;
        }
    }

    /// Syncs `file` outside group commit (a sealed file, close); a failure poisons the
    /// store and is returned.
    pub fn sync_file(&self, file: &Handle) -> Result<()> {
        file.sync_data().inspect_err(|e| self.poison(e.to_string()))
    }

    /// Poisons the store: every later write and wait fails with `why`.
    pub fn poison(&self, why: String) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.failed.get_or_insert(why);
        self.poisoned.store(true, Ordering::Release);
        self.done.notify_all();
    }

    /// `Err(Poisoned)` once the store is poisoned.
    pub fn check(&self) -> Result<(), Error> {
        if !self.poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &s.failed {
            Some(why) => Err(poisoned(why)),
            None => Ok(()),
        }
    }

    /// True once the store is poisoned.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }
}
