//! Merge: copy every live record out of the immutable files into new files with hints,
//! commit with the manifest, swap the keydir over, delete the old files.
//!
//! Every file but the active one is an input, so after a merge no older file can hold a
//! key: tombstones and expired records are simply not copied. Reads and writes go on
//! during the copy; the keydir swap only moves entries that still point where the copy
//! was taken from.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use backend_api::{Error, Result};
use bytes::Bytes;

use crate::files::{Handle, MANIFEST_NAME, data_name, hint_name, tmp_name};
use crate::format::{
    FILE_FLAG_MERGED, FILE_HEADER_LEN, FILE_KIND_DATA, FileHeader, Kind, RECORD_HEADER_LEN,
    RecordHeader,
};
use crate::hint::{HintEntry, HintWriter};
use crate::io::OpenMode;
use crate::keydir::{Entry, as_slice};
use crate::manifest::Manifest;
use crate::store::read::{file_of, read_record};
use crate::store::{MergeStats, Store};

const CHUNK: usize = 1024;
const OUT_BUF: usize = 1 << 20;

struct Output {
    id: u64,
    file: Arc<Handle>,
    offset: u64,
    buf: Vec<u8>,
    hint: HintWriter,
}

impl Output {
    fn flush(&mut self) -> Result<()> {
        let at = self.offset - self.buf.len() as u64;
        self.file.write_all_at(&self.buf, at)?;
        self.buf.clear();
        Ok(())
    }
}

struct Outputs<'a> {
    store: &'a Store,
    seq_floor: u64,
    cur: Option<Output>,
    done: Vec<(u64, Arc<Handle>, u64)>,
    created: Vec<u64>,
}

impl Outputs<'_> {
    fn append(&mut self, rec: &[u8], h: &RecordHeader, key: &[u8]) -> Result<Entry> {
        let len = rec.len() as u64;
        if let Some(cur) = &self.cur
            && cur.offset > FILE_HEADER_LEN as u64
            && cur.offset + len > self.store.cfg.max_file_size
        {
            self.finish_current()?;
        }
        if self.cur.is_none() {
            let id = self.store.writer.lock().take_file_id();
            self.created.push(id);
            let dir = &self.store.dir;
            let file = dir.open(&tmp_name(&data_name(id)), OpenMode::CreateTruncate)?;
            let header = FileHeader {
                version: crate::format::VERSION,
                kind: FILE_KIND_DATA,
                flags: FILE_FLAG_MERGED,
                file_id: id,
                seq_floor: self.seq_floor,
            };
            let hint_file = dir.open(&tmp_name(&hint_name(id)), OpenMode::CreateTruncate)?;
            let hint = HintWriter::new(hint_file, id)?;
            let mut buf = Vec::with_capacity(OUT_BUF);
            buf.extend_from_slice(&header.encode());
            self.cur = Some(Output {
                id,
                file: Arc::new(file),
                offset: FILE_HEADER_LEN as u64,
                buf,
                hint,
            });
        }
        let cur = self.cur.as_mut().expect("an output is open");
        let offset = cur.offset;
        cur.buf.extend_from_slice(rec);
        cur.offset += len;
        if cur.buf.len() >= OUT_BUF {
            cur.flush()?;
        }
        cur.hint.add(&HintEntry {
            kind: h.kind,
            partition: h.partition,
            seq: h.seq,
            expiry: h.expiry,
            offset,
            len: len as u32,
            key,
        })?;
        Ok(Entry {
            file_id: cur.id,
            offset,
            len: len as u32,
            seq: h.seq,
            expiry: h.expiry,
        })
    }

    fn finish_current(&mut self) -> Result<()> {
        if let Some(mut cur) = self.cur.take() {
            cur.flush()?;
            cur.file.sync_data()?;
            cur.hint.finish(cur.offset)?;
            self.done.push((cur.id, cur.file, cur.offset));
        }
        Ok(())
    }

    fn discard(&mut self) {
        self.cur = None;
        let dir = &self.store.dir;
        for &id in &self.created {
            let _ = dir.remove_if_exists(&tmp_name(&data_name(id)));
            let _ = dir.remove_if_exists(&tmp_name(&hint_name(id)));
        }
    }
}

struct Move {
    part: usize,
    key: Bytes,
    old: Entry,
    new: Option<Entry>,
}

/// Merges every data file (the active one is sealed first). Blocking; one merge at a
/// time.
///
/// Failure before the manifest is committed removes the merge's temporary files and
/// changes nothing. A failed manifest commit or clean-up has an unknown effect on the
/// directory: the store is poisoned (writes refused) and the next open finishes or
/// discards the merge from what is really on disk.
pub fn merge(store: &Store) -> Result<MergeStats> {
    let _one = store.bg.merge_lock.lock();
    store.check_open()?;
    let started = Instant::now();
    let (inputs, seq_floor, parts) = {
        let mut w = store.writer.lock();
        store.check_writable()?;
        store.seal_active(&mut w, false);
        let st = store.state.read();
        let inputs: HashSet<u64> = st.files.keys().copied().collect();
        let parts: Vec<(String, u32, u64)> = st
            .parts
            .iter()
            .map(|(n, p)| (n.clone(), p.id, p.create_seq))
            .collect();
        (inputs, w.next_seq, parts)
    };
    if inputs.is_empty() {
        return Ok(MergeStats::default());
    }
    let mut out = Outputs {
        store,
        seq_floor,
        cur: None,
        done: Vec::new(),
        created: Vec::new(),
    };
    let copied = copy_live(store, &inputs, &parts, &mut out);
    let moves = match copied.and_then(|m| out.finish_current().map(|()| m)) {
        Ok(m) => m,
        Err(e) => {
            out.discard();
            return Err(e);
        }
    };
    let mut input_ids: Vec<u64> = inputs.iter().copied().collect();
    input_ids.sort_unstable();
    let manifest = Manifest {
        outputs: out.done.iter().map(|d| d.0).collect(),
        inputs: input_ids,
    };
    let dir = &store.dir;
    if let Err(e) = manifest.commit(dir) {
        // The manifest may or may not be in place: leave every file for the next open.
        store
            .commit
            .poison(format!("merge commit ({MANIFEST_NAME}) failed: {e}"));
        return Err(e);
    }
    // Committed: from here a crash is finished by the next open.
    let mut stats = MergeStats {
        inputs: inputs.len(),
        outputs: out.done.len(),
        records: moves.iter().filter(|m| m.new.is_some()).count() as u64,
        ..MergeStats::default()
    };
    swap(store, &inputs, &out.done, &parts, moves, &mut stats);
    // If the clean-up fails, the old files must not outlive a later merge's manifest
    // (they could bring back deleted keys): refuse further writes until a reopen, which
    // finishes this merge from its manifest.
    let finished = match manifest.finish(dir) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(Error::corruption(why)),
        Err(e) => Err(e),
    };
    if let Err(e) = finished {
        store.commit.poison(format!("merge clean-up failed: {e}"));
        return Err(e);
    }
    stats.micros = started.elapsed().as_micros() as u64;
    stats.finished_at_ms = backend_support::ttl::now_ms();
    store.bg.merges.fetch_add(1, Ordering::Relaxed);
    *store.bg.last_merge.lock() = Some(stats.clone());
    Ok(stats)
}

/// Starts an automatic merge on its own thread unless one is running.
pub fn start_background(store: &Arc<Store>) {
    if store.bg.merging.swap(true, Ordering::AcqRel) {
        return;
    }
    let me = store.clone();
    let spawned = std::thread::Builder::new()
        .name("backend-file-merge".into())
        .spawn(move || {
            let _ = merge(&me);
            me.bg.merging.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        store.bg.merging.store(false, Ordering::Release);
    }
}

/// Swaps the keydir over to the merge's outputs: only entries that still point where
/// the copy was taken from move; the inputs leave the open files.
fn swap(
    store: &Store,
    inputs: &HashSet<u64>,
    done: &[(u64, Arc<Handle>, u64)],
    parts: &[(String, u32, u64)],
    moves: Vec<Move>,
    stats: &mut MergeStats,
) {
    let mut guard = store.state.write();
    let st = &mut *guard;
    for (id, file, len) in done {
        st.files.insert(*id, file.clone());
        st.sizes.insert(*id, *len);
        stats.bytes_out += len;
    }
    for id in inputs {
        st.files.remove(id);
        stats.bytes_in += st.sizes.remove(id).unwrap_or(0);
    }
    st.total_bytes = st.sizes.values().sum();
    for m in moves {
        let (name, pid, _) = &parts[m.part];
        let Some(p) = st.parts.get_mut(name).filter(|p| p.id == *pid) else {
            continue;
        };
        if p.keys().get(&m.key) != Some(m.old) {
            continue;
        }
        match m.new {
            Some(new) => {
                p.insert(&m.key, new);
            }
            None => {
                p.remove(&m.key);
                st.live_bytes -= u64::from(m.old.len);
            }
        }
    }
    drop(guard);
    // Every value read from an input is at a location no keydir entry points at now.
    store.cache.forget_files(inputs);
}

fn copy_live(
    store: &Store,
    inputs: &HashSet<u64>,
    parts: &[(String, u32, u64)],
    out: &mut Outputs<'_>,
) -> Result<Vec<Move>> {
    let mut moves = Vec::new();
    let mut rec = Vec::new();
    for (name, pid, create_seq) in parts {
        let h = RecordHeader {
            kind: Kind::CreatePartition,
            flags: 0,
            partition: *pid,
            seq: *create_seq,
            expiry: 0,
            key_len: name.len() as u32,
            value_len: 0,
        };
        rec.clear();
        h.encode_into(name.as_bytes(), b"", &mut rec);
        out.append(&rec, &h, name.as_bytes())?;
    }
    for (idx, (name, pid, _)) in parts.iter().enumerate() {
        let mut after: Option<Bytes> = None;
        loop {
            if store.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            let chunk: Vec<(Bytes, Entry, Arc<Handle>)> = {
                let st = store.state.read();
                let Some(p) = st.part_by_id(name, *pid) else {
                    break;
                };
                let lower = match &after {
                    Some(k) => std::ops::Bound::Excluded(k.clone()),
                    None => std::ops::Bound::Unbounded,
                };
                p.keys()
                    .range(as_slice(&lower), std::ops::Bound::Unbounded)
                    .take(CHUNK)
                    .filter_map(|(k, e)| {
                        Some((Bytes::copy_from_slice(k), e, file_of(&st, &e).ok()?))
                    })
                    .collect()
            };
            let Some(last) = chunk.last() else { break };
            after = Some(last.0.clone());
            let now = backend_support::ttl::now_ms();
            for (key, entry, file) in chunk {
                if !inputs.contains(&entry.file_id) {
                    continue;
                }
                if entry.expired(now) {
                    moves.push(Move {
                        part: idx,
                        key,
                        old: entry,
                        new: None,
                    });
                    continue;
                }
                let h = read_record(&file, &entry, &key, &mut rec)?;
                // Copies stand alone: clear the batch framing and re-checksum.
                let mut h2 = h;
                h2.flags = 0;
                let value_start = RECORD_HEADER_LEN + key.len();
                let mut fresh = Vec::with_capacity(rec.len());
                h2.encode_into(&key, &rec[value_start..], &mut fresh);
                let new = out.append(&fresh, &h2, &key)?;
                moves.push(Move {
                    part: idx,
                    key,
                    old: entry,
                    new: Some(new),
                });
            }
        }
    }
    Ok(moves)
}
