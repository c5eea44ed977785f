//! The single writer's state (behind the writer mutex) and data file creation.

use std::sync::Arc;

use backend_api::Result;

use crate::files::{Dir, Handle, data_name};
use crate::format::{FILE_KIND_DATA, FileHeader, VERSION};
use crate::keydir::Entry;

/// The single writer's state; lives behind the writer mutex.
pub struct Writer {
    /// The active file; `None` until the first write after open or a seal.
    pub file: Option<Arc<Handle>>,
    /// Its id (meaningful while `file` is `Some`).
    pub file_id: u64,
    /// Where the next record goes.
    pub offset: u64,
    /// Offset at which the writer last asked for the active file to be synced ahead.
    pub ahead_mark: u64,
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
    /// leader syncs them too, and so does rotation before the next file's first record.
    pub unsynced: Vec<Unsynced>,
    /// The next data file, created ahead of time by the background thread (header
    /// synced, in place, directory synced), so rotation need not wait for it.
    pub spare: Option<(u64, Arc<Handle>)>,
}

impl Writer {
    /// A writer starting at `next_seq`, with no active file.
    pub fn new(next_seq: u64, next_file_id: u64, next_pid: u32) -> Self {
        Writer {
            file: None,
            file_id: 0,
            offset: 0,
            ahead_mark: 0,
            next_seq,
            next_file_id,
            next_pid,
            last_seq: 0,
            buf: Vec::with_capacity(512),
            entries: Vec::with_capacity(1),
            unsynced: Vec::new(),
            spare: None,
        }
    }

    /// Takes `n` consecutive sequence numbers; returns the first.
    pub fn take_seqs(&mut self, n: u64) -> u64 {
        let first = self.next_seq;
        self.next_seq += n;
        first
    }

    /// Takes the next file id.
    pub fn take_file_id(&mut self) -> u64 {
        self.next_file_id += 1;
        self.next_file_id - 1
    }

    /// Appends `self.buf` at the end of the active file. The bytes are in the OS (they
    /// survive a process kill) when this returns.
    pub fn append_buf(&mut self, file: &Handle) -> Result<u64> {
        let at = self.offset;
        file.write_all_at(&self.buf, at)?;
        self.offset += self.buf.len() as u64;
        Ok(at)
    }

    /// Every file that may hold records not yet synced: sealed files whose background
    /// sync has not finished, then the active file.
    pub fn unsynced_files(&self) -> Vec<Arc<Handle>> {
        let mut files: Vec<Arc<Handle>> = self.unsynced.iter().map(|u| u.file.clone()).collect();
        files.extend(self.file.clone());
        files
    }
}

/// A sealed file whose background `fdatasync` has not finished yet.
#[derive(Clone)]
pub struct Unsynced {
    /// Its id.
    pub id: u64,
    /// The file.
    pub file: Arc<Handle>,
    /// The sequence number of the last record written before it was sealed: once
    /// group commit has synced that far, the file is durable.
    pub last_seq: u64,
}

/// Creates data file `id` durably: header written and synced under a temporary name,
/// renamed into place, directory synced. A `.data` file therefore always has a whole
/// header.
pub fn create_data_file(dir: &Dir, id: u64, flags: u32, seq_floor: u64) -> Result<Handle> {
    let header = FileHeader {
        version: VERSION,
        kind: FILE_KIND_DATA,
        flags,
        file_id: id,
        seq_floor,
    };
    dir.create_durably(&data_name(id), |f| f.write_all_at(&header.encode(), 0))
}
