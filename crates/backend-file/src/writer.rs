//! The active append-only file, rotation, and group commit.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::files::{create_rw, data_name, path, sync_dir, tmp_name};
use crate::format::{FILE_KIND_DATA, FileHeader};
use crate::keydir::Entry;

/// The single writer's state; lives behind the writer mutex.
pub struct Writer {
    /// The active file; `None` until the first write after open or a seal.
    pub file: Option<Arc<File>>,
    /// Its id (meaningful while `file` is `Some`).
    pub file_id: u64,
    /// Where the next record goes.
    pub offset: u64,
    /// Sequence number of the next record.
    pub next_seq: u64,
    /// Id of the next file created (active or merge output).
    pub next_file_id: u64,
    /// Id of the next partition created.
    pub next_pid: u32,
    /// Sequence number of the last record written (0: none since open).
    pub last_seq: u64,
    /// Encoding buffer, reused.
    pub buf: Vec<u8>,
    /// Keydir entries of the write being appended, reused.
    pub entries: Vec<Entry>,
    /// Sealed files whose background `fdatasync` has not finished yet: a group-commit
    /// leader syncs them too.
    pub unsynced: Vec<(u64, Arc<File>)>,
}

impl Writer {
    /// Takes `n` consecutive sequence numbers; returns the first.
    pub fn take_seqs(&mut self, n: u64) -> u64 {
        let first = self.next_seq;
        self.next_seq += n;
        first
    }

    /// Appends `self.buf` at the end of the active file. The bytes are in the OS (they
    /// survive a process kill) when this returns.
    pub fn append_buf(&mut self, file: &File) -> std::io::Result<u64> {
        let at = self.offset;
        file.write_all_at(&self.buf, at)?;
        self.offset += self.buf.len() as u64;
        Ok(at)
    }
}

/// Creates data file `id` durably: header written and synced under a temporary name,
/// renamed into place, directory synced. A `.data` file therefore always has a whole
/// header.
pub fn create_data_file(dir: &Path, id: u64, flags: u32, seq_floor: u64) -> std::io::Result<File> {
    let name = data_name(id);
    let tmp = path(dir, &tmp_name(&name));
    let file = create_rw(&tmp)?;
    let header = FileHeader {
        version: crate::format::VERSION,
        kind: FILE_KIND_DATA,
        flags,
        file_id: id,
        seq_floor,
    };
    file.write_all_at(&header.encode(), 0)?;
    file.sync_data()?;
    fs::rename(&tmp, path(dir, &name))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Group commit: writers waiting for durability share one `fdatasync`.
///
/// A writer that needs sequence number `s` durable becomes the leader if no sync is
/// running, syncs every file that may hold unsynced records (sealed files whose
/// background sync has not finished, then the active file) up to everything written so
/// far, and wakes everyone it covered; writers arriving meanwhile wait and are covered
/// by the next leader.
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
    /// writer lock).
    pub fn wait(
        &self,
        seq: u64,
        snapshot: impl Fn() -> (Vec<Arc<File>>, u64),
    ) -> Result<(), String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(why) = &s.failed {
                return Err(why.clone());
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
            match result {
                Ok(()) => {
                    s.synced = s.synced.max(target);
                    self.synced.store(s.synced, Ordering::Release);
                }
                Err(e) => {
                    s.failed = Some(format!("fdatasync failed: {e}"));
                    self.poisoned.store(true, Ordering::Release);
                }
            }
            if s.waiters > 0 {
                self.done.notify_all();
            }
        }
    }

    /// Poisons the store: every later wait fails with `why`.
    pub fn poison(&self, why: String) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.failed.get_or_insert(why);
        self.poisoned.store(true, Ordering::Release);
        self.done.notify_all();
    }

    /// Why the store is poisoned, if it is.
    pub fn failure(&self) -> Option<String> {
        if !self.poisoned.load(Ordering::Acquire) {
            return None;
        }
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failed
            .clone()
    }
}
