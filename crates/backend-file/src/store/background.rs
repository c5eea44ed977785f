//! What the store hands to its background thread, and what that thread reports back.
//!
//! The store only queues work here (a sealed file to sync and index, a spare data file
//! wanted) and wakes the thread; the thread itself (`seal.rs`) and merging
//! (`merge.rs`) live above the store.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::files::Handle;

/// A sealed data file waiting for its hint.
pub struct Sealed {
    /// Its id.
    pub id: u64,
    /// The file.
    pub file: Arc<Handle>,
    /// Its final length.
    pub len: u64,
}

/// What one merge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Data files replaced.
    pub inputs: usize,
    /// Data files written.
    pub outputs: usize,
    /// Bytes in the replaced files.
    pub bytes_in: u64,
    /// Bytes in the new files.
    pub bytes_out: u64,
    /// Live records copied.
    pub records: u64,
    /// Wall time, in microseconds.
    pub micros: u64,
    /// When it finished, ms since the Unix epoch.
    pub finished_at_ms: u64,
}

/// Background work of one store: queues, locks and counters.
#[derive(Default)]
pub struct Background {
    /// Sealed files waiting for a hint.
    pub hints: Mutex<VecDeque<Sealed>>,
    /// Held while the background thread builds a hint or creates the spare file; close
    /// takes it (before the merge lock) to wait for the work in progress.
    pub work_lock: Mutex<()>,
    /// Hint files written for sealed files since open.
    pub hints_written: AtomicU64,
    /// One merge at a time.
    pub merge_lock: Mutex<()>,
    /// An automatic merge is running.
    pub merging: AtomicBool,
    /// Merges since open.
    pub merges: AtomicU64,
    /// The last merge's figures.
    pub last_merge: Mutex<Option<MergeStats>>,
    /// The writer wants a spare data file prepared.
    pub spare_wanted: AtomicBool,
    /// The writer has appended a sync-ahead step since it last asked for the active
    /// file to be synced.
    pub sync_ahead_wanted: AtomicBool,
    /// Syncs of the active file made ahead of rotation.
    pub syncs_ahead: AtomicU64,
    /// Wakes the background thread.
    pub wake: Arc<Signal>,
}

impl Background {
    /// Asks for a spare data file (once until it is made).
    pub fn want_spare(&self) {
        self.ask(&self.spare_wanted);
    }

    /// Asks for the active file to be synced ahead of its rotation.
    pub fn want_sync_ahead(&self) {
        self.ask(&self.sync_ahead_wanted);
    }

    /// Raises `flag` and wakes the thread, unless the flag was already up.
    fn ask(&self, flag: &AtomicBool) {
        if !flag.swap(true, Ordering::AcqRel) {
            self.wake.notify();
        }
    }
}

/// A wake-up flag the background thread sleeps on.
#[derive(Default)]
pub struct Signal {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    /// Wakes the thread (or makes its next wait return at once).
    pub fn notify(&self) {
        *self.woken.lock() = true;
        self.cv.notify_one();
    }

    /// Sleeps until woken or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        let mut woken = self.woken.lock();
        if !*woken {
            self.cv.wait_for(&mut woken, timeout);
        }
        *woken = false;
    }
}
