//! The background thread of a store: sealed files' `fdatasync` and hint files, and the
//! spare data file that lets rotation skip its fsyncs; and close, which finishes that
//! work in the foreground.
//!
//! When the active file is rotated the writer only hands it over (`Store::seal_active`):
//! this thread syncs it (until that finishes, a group-commit leader syncs it too, so
//! durability never depends on the thread), then writes its hint file (temporary name,
//! fsync, rename, directory fsync), so the next open reads the hint instead of scanning
//! the data file. A hint is built without the merge lock (a merge never waits for one)
//! and renamed into place under it, only if its data file is still in the store; it is
//! built only from synced data, and never after close (the directory may belong to
//! another handle by then): close writes the hints still queued itself.
//!
//! Once the active file is half full the thread also creates the next data file (header
//! written and synced, renamed into place, directory synced), so the writer that
//! rotates only switches to it. And every few MiB appended it syncs the active file
//! ahead of time, so the sync rotation makes before the next file's first record
//! (see `store::append`) finds little to write. The spare is created with the writer lock released;
//! close removes an unused one.
//!
//! Lock order: hint lock, then merge lock, then the writer lock, then the keydir.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use backend_api::Result;

use crate::files::data_name;
use crate::format::FILE_HEADER_LEN;
use crate::hint::{build_hint, install_hint};
use crate::store::Store;
use crate::writer::create_data_file;

/// How long the thread sleeps when nothing wakes it (it then checks whether the store
/// is gone).
const IDLE: Duration = Duration::from_millis(500);

/// Starts the store's background thread.
pub(crate) fn spawn(store: &Arc<Store>) -> Result<()> {
    let weak = Arc::downgrade(store);
    let wake = store.bg.wake.clone();
    std::thread::Builder::new()
        .name("backend-file-seal".into())
        .spawn(move || run(&weak, &wake))
        .map_err(crate::error::spawn_failed)?;
    Ok(())
}

fn run(store: &Weak<Store>, wake: &crate::store::background::Signal) {
    loop {
        wake.wait(IDLE);
        let Some(store) = store.upgrade() else { return };
        if store.closed.load(Ordering::Acquire) {
            return;
        }
        sync_sealed(&store);
        sync_ahead(&store);
        write_queued_hints(&store, false);
        prepare_spare(&store);
    }
}

/// Syncs every sealed file not yet synced, forgetting each once it is durable. A
/// failure poisons the store.
fn sync_sealed(store: &Store) {
    let files = store.writer.lock().unsynced.clone();
    for u in files {
        if store.commit.sync_file(&u.file).is_err() {
            return;
        }
        store.writer.lock().unsynced.retain(|s| s.id != u.id);
    }
}

/// Syncs the active file if the writer asked (it has grown by a sync-ahead step), so
/// the sync its rotation needs finds little left to write. Nothing is marked durable
/// by it (group commit keeps its own count); a failure poisons the store like any
/// failed `fdatasync`.
fn sync_ahead(store: &Store) {
    if !store.bg.sync_ahead_wanted.swap(false, Ordering::AcqRel) {
        return;
    }
    let active = store.writer.lock().file.clone();
    if let Some(file) = active
        && store.commit.sync_file(&file).is_ok()
    {
        store.bg.syncs_ahead.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes the queued hint files. A hint is built (the long part: reading the sealed
/// file back, writing and syncing the hint) under the hint lock only, so a merge never
/// waits for it; it is put in place under the merge lock, if its data file is still in
/// the store. `closing`: called by close, which holds both locks already; otherwise
/// nothing is started once close has begun.
fn write_queued_hints(store: &Store, closing: bool) {
    let _building = (!closing).then(|| store.bg.work_lock.lock());
    loop {
        if !closing && store.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(s) = store.bg.hints.lock().pop_front() else {
            return;
        };
        let live = |store: &Store| {
            !store.commit.is_poisoned() && store.state.read().files.contains_key(&s.id)
        };
        if !live(store) {
            continue;
        }
        // A hint that cannot be written is only a missed optimisation: open scans.
        if let Ok(true) = build_hint(&store.dir, s.id, &s.file, s.len, &store.limits) {
            let _merge = (!closing).then(|| store.bg.merge_lock.lock());
            let keep = live(store);
            if install_hint(&store.dir, s.id, keep).is_ok() && keep {
                store.bg.hints_written.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Creates the spare data file if the writer asked for one, with the writer lock
/// released during the fsyncs (the work lock held, so close waits for it). A failure leaves rotation to create the file itself.
fn prepare_spare(store: &Store) {
    if !store.bg.spare_wanted.load(Ordering::Acquire) {
        return;
    }
    let _working = store.bg.work_lock.lock();
    if store.closed.load(Ordering::Acquire) {
        return;
    }
    let id = {
        let mut w = store.writer.lock();
        if w.spare.is_some() || store.commit.is_poisoned() {
            return;
        }
        w.take_file_id()
    };
    // Sequence floor 0 (no floor): the spare's records are numbered above anything
    // written now anyway, and a floor taken now could lie above the last record that
    // survives a power cut, making the numbering jump at the next open.
    let Ok(file) = create_data_file(&store.dir, id, 0, 0) else {
        let _ = store
            .dir
            .remove_if_exists(&crate::files::tmp_name(&data_name(id)));
        store.bg.spare_wanted.store(false, Ordering::Release);
        return;
    };
    // Close waits for the work lock, so it finds the spare and removes it.
    let mut w = store.writer.lock();
    w.spare = Some((id, Arc::new(file)));
    store.bg.spare_wanted.store(false, Ordering::Release);
}

/// Close's blocking part: waits for a hint being built and a running merge, makes
/// everything written durable, writes the queued hints, removes an unused spare file
/// and (after a clean sync) an active file holding no records, so repeated open and
/// close leave no growing number of empty files, and releases the directory lock. The
/// first sync error is returned (the store is closed either way).
pub(crate) fn close(store: &Store) -> Result<()> {
    let _h = store.bg.work_lock.lock();
    let _m = store.bg.merge_lock.lock();
    let (files, last, spare, empty_active) = {
        let mut w = store.writer.lock();
        let empty = (w.file.is_some() && w.offset == FILE_HEADER_LEN as u64).then_some(w.file_id);
        (w.unsynced_files(), w.last_seq, w.spare.take(), empty)
    };
    let synced = store
        .commit
        .check()
        .and_then(|()| files.iter().try_for_each(|f| store.commit.sync_file(f)));
    if synced.is_ok() {
        store.writer.lock().unsynced.clear();
        store.commit.mark_synced(last);
        // Rotated files still without a hint get it now, so the next open reads hints
        // for every sealed file.
        write_queued_hints(store, true);
    }
    let unused: Vec<u64> = spare
        .map(|s| s.0)
        .into_iter()
        .chain(empty_active.filter(|_| synced.is_ok()))
        .collect();
    let unspared = if unused.is_empty() {
        Ok(())
    } else {
        unused
            .iter()
            .try_for_each(|id| store.dir.remove_if_exists(&data_name(*id)))
            .and_then(|()| store.dir.sync())
    };
    store.watch.close_all();
    {
        let mut st = store.state.write();
        st.files.clear();
        st.parts.clear();
    }
    store.cache.clear();
    store.lock.lock().take();
    synced.and(unspared)
}
