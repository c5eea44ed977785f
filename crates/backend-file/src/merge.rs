//! Merge: copy every live record out of the immutable files into new files with hints,
//! commit with the manifest, swap the keydir over, delete the old files.
//!
//! Every file but the active one is an input, so after a merge no older file can hold a
//! key: tombstones and expired records are simply not copied. Reads and writes go on
//! during the copy; the keydir swap only moves entries that still point where the copy
//! was taken from.

use crate::files::IoAt;
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use backend_api::{Error, Result};
use bytes::Bytes;

use crate::backend::Inner;
use crate::files::{create_rw, data_name, hint_name, path, remove_if_exists, tmp_name};
use crate::format::{
    FILE_FLAG_MERGED, FILE_HEADER_LEN, FILE_KIND_DATA, FileHeader, Kind, RECORD_HEADER_LEN,
    RecordHeader,
};
use crate::hint::{HintEntry, HintWriter};
use crate::keydir::Entry;
use crate::manifest::Manifest;

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

const CHUNK: usize = 1024;
const OUT_BUF: usize = 1 << 20;

struct Output {
    id: u64,
    file: Arc<File>,
    offset: u64,
    buf: Vec<u8>,
    hint: HintWriter,
}

impl Output {
    fn flush(&mut self) -> std::io::Result<()> {
        let at = self.offset - self.buf.len() as u64;
        self.file.write_all_at(&self.buf, at)?;
        self.buf.clear();
        Ok(())
    }
}

struct Outputs<'a> {
    inner: &'a Inner,
    seq_floor: u64,
    cur: Option<Output>,
    done: Vec<(u64, Arc<File>, u64)>,
    created: Vec<u64>,
}

impl Outputs<'_> {
    fn append(&mut self, rec: &[u8], h: &RecordHeader, key: &[u8]) -> Result<Entry> {
        let len = rec.len() as u64;
        if let Some(cur) = &self.cur
            && cur.offset > FILE_HEADER_LEN as u64
            && cur.offset + len > self.inner.cfg.max_file_size
        {
            self.finish_current()?;
        }
        if self.cur.is_none() {
            let id = {
                let mut w = self.inner.writer.lock();
                w.next_file_id += 1;
                w.next_file_id - 1
            };
            self.created.push(id);
            let dir = &self.inner.cfg.dir;
            let file = create_rw(&path(dir, &tmp_name(&data_name(id)))).at(dir)?;
            let header = FileHeader {
                version: crate::format::VERSION,
                kind: FILE_KIND_DATA,
                flags: FILE_FLAG_MERGED,
                file_id: id,
                seq_floor: self.seq_floor,
            };
            let hint = HintWriter::new(
                create_rw(&path(dir, &tmp_name(&hint_name(id)))).at(dir)?,
                id,
            )
            .at(dir)?;
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
            cur.flush().at(&self.inner.cfg.dir)?;
        }
        cur.hint
            .add(&HintEntry {
                kind: h.kind,
                partition: h.partition,
                seq: h.seq,
                expiry: h.expiry,
                offset,
                len: len as u32,
                key: key.to_vec(),
            })
            .at(&self.inner.cfg.dir)?;
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
            cur.flush().at(&self.inner.cfg.dir)?;
            cur.file.sync_data().at(&self.inner.cfg.dir)?;
            cur.hint.finish(cur.offset).at(&self.inner.cfg.dir)?;
            self.done.push((cur.id, cur.file, cur.offset));
        }
        Ok(())
    }

    fn discard(&mut self) {
        self.cur = None;
        let dir = &self.inner.cfg.dir;
        for &id in &self.created {
            let _ = remove_if_exists(&path(dir, &tmp_name(&data_name(id))));
            let _ = remove_if_exists(&path(dir, &tmp_name(&hint_name(id))));
        }
    }
}

struct Move {
    part: usize,
    key: Bytes,
    old: Entry,
    new: Option<Entry>,
}

/// Merges every data file (the active one is sealed first). Blocking; one merge at a time.
pub fn merge(inner: &Inner) -> Result<MergeStats> {
    let _one = inner.merge_lock.lock();
    inner.check_open()?;
    let started = Instant::now();
    let (inputs, seq_floor, parts) = {
        let mut w = inner.writer.lock();
        inner.check_writable()?;
        inner.seal(&mut w, false);
        let st = inner.state.read();
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
        inner,
        seq_floor,
        cur: None,
        done: Vec::new(),
        created: Vec::new(),
    };
    let copied = copy_live(inner, &inputs, &parts, &mut out);
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
    if let Err(e) = manifest.commit(&inner.cfg.dir) {
        out.discard();
        let _ = remove_if_exists(&path(
            &inner.cfg.dir,
            &tmp_name(crate::files::MANIFEST_NAME),
        ));
        return Err(Error::io(&inner.cfg.dir, e));
    }
    // Committed: from here a crash is finished by the next open.
    let mut stats = MergeStats {
        inputs: inputs.len(),
        outputs: out.done.len(),
        records: moves.iter().filter(|m| m.new.is_some()).count() as u64,
        ..MergeStats::default()
    };
    {
        let mut guard = inner.state.write();
        let st = &mut *guard;
        for (id, file, len) in &out.done {
            st.files.insert(*id, file.clone());
            st.sizes.insert(*id, *len);
            stats.bytes_out += len;
        }
        for id in &inputs {
            st.files.remove(id);
            stats.bytes_in += st.sizes.remove(id).unwrap_or(0);
        }
        st.total_bytes = st.sizes.values().sum();
        for m in moves {
            let (name, pid, _) = &parts[m.part];
            let Some(p) = st.parts.get_mut(name).filter(|p| p.id == *pid) else {
                continue;
            };
            if p.keys.get(&m.key) != Some(&m.old) {
                continue;
            }
            match m.new {
                Some(new) => {
                    p.insert(m.key, new);
                }
                None => {
                    p.remove(&m.key);
                    st.live_bytes -= u64::from(m.old.len);
                }
            }
        }
    }
    // If the clean-up fails, the old files must not outlive a later merge's manifest
    // (they could bring back deleted keys): refuse further writes until a reopen, which
    // finishes this merge from its manifest.
    let finished = match manifest.finish(&inner.cfg.dir) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(Error::corruption(why)),
        Err(e) => Err(Error::io(&inner.cfg.dir, e)),
    };
    if let Err(e) = finished {
        inner.commit.poison(format!("merge clean-up failed ({e})"));
        return Err(e);
    }
    stats.micros = started.elapsed().as_micros() as u64;
    stats.finished_at_ms = backend_support::ttl::now_ms();
    inner.merges.fetch_add(1, Ordering::Relaxed);
    *inner.last_merge.lock() = Some(stats.clone());
    Ok(stats)
}

fn copy_live(
    inner: &Inner,
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
            if inner.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            let chunk: Vec<(Bytes, Entry, Arc<File>)> = {
                let st = inner.state.read();
                let Some(p) = st.part_by_id(name, *pid) else {
                    break;
                };
                let lower = match &after {
                    Some(k) => std::ops::Bound::Excluded(k.clone()),
                    None => std::ops::Bound::Unbounded,
                };
                p.keys
                    .range((lower, std::ops::Bound::Unbounded))
                    .take(CHUNK)
                    .map(|(k, e)| (k.clone(), *e, st.files.get(&e.file_id).cloned()))
                    .filter_map(|(k, e, f)| f.map(|f| (k, e, f)))
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
                rec.resize(entry.len as usize, 0);
                file.read_exact_at(&mut rec, entry.offset)
                    .at(&inner.cfg.dir)?;
                let h = crate::backend::check_record(&rec, &entry, &key, entry.file_id)?;
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
