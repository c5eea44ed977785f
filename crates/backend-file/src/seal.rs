//! Sealing rotated files off the write path: their `fdatasync`, then their hint file.
//!
//! When the active file is rotated the writer only hands it over: a background thread
//! syncs it (until that finishes, a group-commit leader syncs it too, so durability
//! never depends on the thread), then writes its hint file (temporary name, fsync,
//! rename, directory fsync), so the next open reads the hint instead of scanning the
//! data file. A hint is built without the merge lock (a merge never waits for one) and
//! renamed into place under it, only if its data file is still in the store; it is
//! built only from synced data, and never after close (the directory may belong to
//! another handle by then): close writes the hints still queued itself.
//!
//! Lock order: hint lock, then merge lock, then the writer lock, then the keydir.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::backend::Inner;
use crate::hint::{build_hint, install_hint};
use crate::writer::Writer;

/// A sealed data file waiting for its hint.
struct Sealed {
    id: u64,
    file: Arc<File>,
    len: u64,
}

/// Sealed files waiting for a hint, and whether a sealer thread is running.
#[derive(Default)]
pub struct SealQueue {
    hints: Mutex<VecDeque<Sealed>>,
    /// Held while a hint is being built; close takes it (before the merge lock) to wait
    /// for the one in progress.
    pub hint_lock: Mutex<()>,
    running: AtomicBool,
    written: AtomicU64,
}

impl SealQueue {
    /// Hint files written for rotated files since open.
    pub fn hints_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// Seals the active file: the next write starts a new one. The file's `fdatasync`
    /// and hint are left to a background thread (`hint`: false for a file a merge is
    /// about to replace). Writer lock held.
    pub(crate) fn seal(&self, w: &mut Writer, hint: bool) {
        let Some(file) = w.file.take() else { return };
        w.unsynced.push((w.file_id, file.clone()));
        if hint {
            self.seals.hints.lock().push_back(Sealed {
                id: w.file_id,
                file,
                len: w.offset,
            });
        }
        self.start_sealer();
    }

    /// Starts the sealer thread unless one is running.
    fn start_sealer(&self) {
        if self.seals.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            self.seals.running.store(false, Ordering::Release);
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("backend-file-seal".into())
            .spawn(move || me.run_sealer());
        if spawned.is_err() {
            // Durability is still covered by group-commit leaders, flush and close;
            // the hint is only an optimisation.
            self.seals.running.store(false, Ordering::Release);
        }
    }

    fn run_sealer(&self) {
        loop {
            self.sync_sealed();
            self.write_queued_hints(false);
            self.seals.running.store(false, Ordering::Release);
            // One lock at a time: `seal` takes the hint queue under the writer lock.
            let no_hints = self.seals.hints.lock().is_empty();
            let no_syncs = self.writer.lock().unsynced.is_empty();
            let idle = self.closed.load(Ordering::Acquire) || (no_hints && no_syncs);
            if idle || self.seals.running.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    }

    /// Syncs every sealed file not yet synced, forgetting each once it is durable. A
    /// failure poisons the store.
    pub(crate) fn sync_sealed(&self) {
        let files = self.writer.lock().unsynced.clone();
        for (id, file) in files {
            if let Err(e) = file.sync_data() {
                self.commit.poison(format!("fdatasync failed: {e}"));
                return;
            }
            self.writer.lock().unsynced.retain(|(i, _)| *i != id);
        }
    }

    /// Writes the queued hint files. A hint is built (the long part: reading the sealed
    /// file back, writing and syncing the hint) under the hint lock only, so a merge
    /// never waits for it; it is put in place under the merge lock, if its data file is
    /// still in the store. `closing`: called by close, which holds both locks already;
    /// otherwise nothing is started once close has begun.
    pub(crate) fn write_queued_hints(&self, closing: bool) {
        let _building = (!closing).then(|| self.seals.hint_lock.lock());
        loop {
            if !closing && self.closed.load(Ordering::Acquire) {
                return;
            }
            let Some(s) = self.seals.hints.lock().pop_front() else {
                return;
            };
            let live = |inner: &Inner| {
                inner.commit.failure().is_none() && inner.state.read().files.contains_key(&s.id)
            };
            if !live(self) {
                continue;
            }
            // A hint that cannot be written is only a missed optimisation: open scans.
            let dir = &self.cfg.dir;
            if let Ok(true) = build_hint(dir, s.id, &s.file, s.len, &self.limits) {
                let _merge = (!closing).then(|| self.merge_lock.lock());
                let keep = live(self);
                if install_hint(dir, s.id, keep).is_ok() && keep {
                    self.seals.written.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
