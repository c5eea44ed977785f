//! The append path: rotation, encoding, the append itself, the keydir update and the
//! watchers. Everything here runs under the writer lock.
//!
//! Rotation takes the spare data file the background thread prepared (header synced,
//! renamed into place, directory synced) when there is one, so the writer does no
//! fsync, rename or directory sync; without a spare it creates the file itself. The
//! sealed file's `fdatasync` and hint are the background thread's (a group-commit
//! leader syncs it too until then, so durability never waits for that thread), except
//! that before the first record goes to the next file, every sealed file still holding
//! unsynced records is synced here: the kernel writes files back independently, so
//! without it a power cut could keep the new file's records and lose the older ones
//! they follow, and the surviving writes would not be a prefix of those made. Under
//! `SyncPolicy::Always` the sealed file is normally synced already (no call).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use backend_api::{Result, WatchEvent};
use bytes::Bytes;

use super::{Sealed, Store, Written};
use crate::cache::ValueCache;
use crate::files::Handle;
use crate::format::{
    FILE_HEADER_LEN, FLAG_BATCH, FLAG_BEGIN, FLAG_END, Kind, RECORD_HEADER_LEN, RecordHeader,
};
use crate::keydir::{Entry, KeyDir, PartState, State, as_slice};
use crate::plan::Op;
use crate::writer::{Unsynced, Writer, create_data_file};

impl Store {
    /// Seals the active file: the next write starts a new one. Its `fdatasync` and
    /// (`hint`: false for a file a merge is about to replace) its hint are left to the
    /// background thread.
    pub fn seal_active(&self, w: &mut Writer, hint: bool) {
        let Some(file) = w.file.take() else { return };
        w.unsynced.push(Unsynced {
            id: w.file_id,
            file: file.clone(),
            last_seq: w.last_seq,
        });
        if hint {
            self.bg.hints.lock().push_back(Sealed {
                id: w.file_id,
                file,
                len: w.offset,
            });
        }
        self.bg.wake.notify();
    }

    /// The active file, started if there is none: the spare if one is ready, else a
    /// new file created here. Sealed files with unsynced records are synced first.
    fn ensure_active(&self, w: &mut Writer) -> Result<Arc<Handle>> {
        if let Some(f) = &w.file {
            return Ok(f.clone());
        }
        self.sync_sealed_files(w)?;
        let (id, file) = match w.spare.take() {
            Some(spare) => spare,
            None => {
                let id = w.take_file_id();
                (
                    id,
                    Arc::new(create_data_file(&self.dir, id, 0, w.next_seq)?),
                )
            }
        };
        {
            let mut st = self.state.write();
            st.files.insert(id, file.clone());
            st.grew(id, FILE_HEADER_LEN as u64);
        }
        w.file = Some(file.clone());
        w.file_id = id;
        w.offset = FILE_HEADER_LEN as u64;
        w.ahead_mark = w.offset;
        Ok(file)
    }

    /// Makes every sealed file durable before a record goes to a newer file, so the
    /// writes a power cut keeps are always a prefix of those made. A file group commit
    /// already synced (its last record is covered) costs nothing. A failure poisons
    /// the store, like any failed `fdatasync`.
    fn sync_sealed_files(&self, w: &mut Writer) -> Result<()> {
        let synced = self.commit.synced();
        for u in &w.unsynced {
            if u.last_seq > synced {
                self.commit.sync_file(&u.file)?;
            }
        }
        w.unsynced.clear();
        Ok(())
    }

    /// Appends `ops` as one write (`batch`: framed as one batch), updates the keydir
    /// and tells watchers. A failed write poisons the store: its effect on the file is
    /// unknown.
    pub fn append(&self, w: &mut Writer, ops: &[Op<'_>], batch: bool) -> Result<Written> {
        if ops.is_empty() {
            return Ok(Written::default());
        }
        let total: u64 = ops
            .iter()
            .map(|o| (RECORD_HEADER_LEN + o.key.len() + o.value.len()) as u64)
            .sum();
        let max = self.cfg.max_file_size;
        if w.file.is_some() && w.offset > FILE_HEADER_LEN as u64 && w.offset + total > max {
            self.seal_active(w, true);
        }
        let file = self.ensure_active(w)?;
        let first = w.take_seqs(ops.len() as u64);
        let mut buf = std::mem::take(&mut w.buf);
        buf.clear();
        let mut entries = std::mem::take(&mut w.entries);
        entries.clear();
        let last = ops.len() - 1;
        for (i, op) in ops.iter().enumerate() {
            let flags = if batch {
                FLAG_BATCH
                    | if i == 0 { FLAG_BEGIN } else { 0 }
                    | if i == last { FLAG_END } else { 0 }
            } else {
                0
            };
            let h = RecordHeader {
                kind: op.kind,
                flags,
                partition: op.pid,
                seq: first + i as u64,
                expiry: op.expiry,
                key_len: op.key.len() as u32,
                value_len: op.value.len() as u32,
            };
            let offset = w.offset + buf.len() as u64;
            h.encode_into(op.key, op.value, &mut buf);
            entries.push(Entry {
                file_id: w.file_id,
                offset,
                len: h.total_len() as u32,
                seq: h.seq,
                expiry: op.expiry,
            });
        }
        w.buf = buf;
        if let Err(e) = w.append_buf(&file) {
            self.commit
                .poison(format!("a write failed, its effect is unknown: {e}"));
            w.entries = entries;
            return Err(e);
        }
        w.last_seq = first + last as u64;
        if w.spare.is_none() && w.offset > max / 2 {
            self.bg.want_spare();
        }
        if w.offset - w.ahead_mark >= sync_ahead_step(max) {
            w.ahead_mark = w.offset;
            self.bg.want_sync_ahead();
        }
        let merge_due = {
            let mut st = self.state.write();
            st.grew(w.file_id, total);
            for (op, e) in ops.iter().zip(&entries) {
                apply(&mut st, &self.cache, op, e);
            }
            self.merge_due(&st)
        };
        w.entries = entries;
        ops.iter().for_each(|op| self.publish(op));
        Ok(Written {
            seq: w.last_seq,
            merge_due,
        })
    }

    /// True when the store is past the automatic merge trigger and no merge runs.
    fn merge_due(&self, st: &State) -> bool {
        self.cfg.merge_trigger.is_some_and(|ratio| {
            st.total_bytes >= self.cfg.merge_min_bytes
                && st.dead_bytes() as f64 > ratio * st.total_bytes as f64
        }) && !self.bg.merging.load(Ordering::Relaxed)
    }

    /// Tells the watchers of `op`'s partition what it did.
    fn publish(&self, op: &Op<'_>) {
        if !self.watch.is_watched(op.part) {
            if op.kind == Kind::DropPartition {
                self.watch.close_partition(op.part);
            }
            return;
        }
        let event = match op.kind {
            Kind::Put => WatchEvent::Put {
                key: Bytes::copy_from_slice(op.key),
                value: Bytes::copy_from_slice(op.value),
            },
            Kind::Delete => WatchEvent::Delete {
                key: Bytes::copy_from_slice(op.key),
            },
            // Planned only when it removes a live key.
            Kind::DeleteRange => match op.range {
                Some(range) => WatchEvent::RangeDeleted {
                    range: range.clone(),
                },
                None => return,
            },
            Kind::DropPartition => return self.watch.close_partition(op.part),
            Kind::CreatePartition => return,
        };
        self.watch.publish(op.part, event);
    }
}

/// Bytes appended to the active file between two background syncs of it: an eighth of
/// the file size, at least 1 MiB and at most 8 MiB (RocksDB's `bytes_per_sync` idea).
/// Rotation must sync the sealed file before the next file gets a record; synced
/// ahead, that sync finds at most one step of dirty data instead of a whole file.
pub(crate) fn sync_ahead_step(max_file_size: u64) -> u64 {
    (max_file_size / 8).clamp(1 << 20, 8 << 20)
}

/// Applies one appended record, now at `e`, to the keydir.
/// Every entry a write replaces or removes leaves the value cache.
fn apply(st: &mut State, cache: &ValueCache, op: &Op<'_>, e: &Entry) {
    match op.kind {
        Kind::Put | Kind::Delete => {
            let Some(p) = st.parts.get_mut(op.name) else {
                return;
            };
            let old = if op.kind == Kind::Put {
                st.live_bytes += u64::from(e.len);
                p.insert(op.key, *e)
            } else {
                p.remove(op.key)
            };
            if let Some(old) = old {
                st.live_bytes -= u64::from(old.len);
                cache.forget(&old);
            }
        }
        Kind::CreatePartition => {
            st.parts.insert(
                op.name.to_owned(),
                PartState::new(op.pid, e.seq, KeyDir::default()),
            );
        }
        Kind::DropPartition => {
            if let Some(p) = st.parts.remove(op.name) {
                for old in p.keys().values() {
                    st.live_bytes -= u64::from(old.len);
                    cache.forget(&old);
                }
            }
        }
        Kind::DeleteRange => {
            let (Some(p), Some(range)) = (st.parts.get_mut(op.name), op.range) else {
                return;
            };
            let (lo, hi) = range.bounds();
            let live = &mut st.live_bytes;
            p.remove_range(as_slice(&lo), as_slice(&hi), |old| {
                *live -= u64::from(old.len);
                cache.forget(old);
            });
        }
    }
}
