//! Open: lock, finish or discard an interrupted merge, load hints or scan data files,
//! cut torn tails, rebuild the keydir (highest sequence number wins).

use crate::files::IoAt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use backend_api::{Error, KeyRange, Result};
use backend_support::RangeCursor;
use bytes::Bytes;

use crate::config::FileConfig;
use crate::files::{
    FileType, LOCK_NAME, TMP_SUFFIX, data_name, hint_name, parse_name, path, remove_if_exists,
    sync_dir,
};
use crate::format::{
    FILE_FLAG_MERGED, FILE_HEADER_LEN, FILE_KIND_DATA, FLAG_BATCH, FLAG_BEGIN, FLAG_END,
    FileHeader, HeaderError, Kind, Limits, RANGE_DELETE_VERSION, RECORD_HEADER_LEN, RecordHeader,
    VERSION, decode_range, record_crc_ok,
};
use crate::hint::read_hint;
use crate::keydir::{Entry, PartState, State};
use crate::manifest::Manifest;

/// A torn tail open cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncatedTail {
    /// The data file.
    pub file: String,
    /// Its new length (the end of the last whole record or committed batch).
    pub offset: u64,
    /// Bytes removed.
    pub bytes: u64,
}

/// A corrupt range repair mode dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedRange {
    /// The file.
    pub file: String,
    /// Where the bad range starts.
    pub offset: u64,
    /// How many bytes were skipped.
    pub bytes: u64,
    /// What was wrong.
    pub reason: String,
}

/// What open found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Data files read record by record.
    pub files_scanned: usize,
    /// Data files indexed from their hint file.
    pub hints_loaded: usize,
    /// Hint files that failed a check (their data file was scanned instead).
    pub hints_rejected: Vec<String>,
    /// Torn tails cut back.
    pub truncated: Vec<TruncatedTail>,
    /// Corrupt ranges dropped (repair mode only).
    pub dropped: Vec<DroppedRange>,
    /// An interrupted, committed merge was finished.
    pub merge_finished: bool,
    /// Uncommitted temporary files removed.
    pub orphans_removed: Vec<String>,
}

/// The state open hands to the backend.
pub struct Recovered {
    pub state: State,
    pub active: Option<(u64, Arc<File>, u64)>,
    pub next_seq: u64,
    pub next_file_id: u64,
    pub next_pid: u32,
    pub report: RecoveryReport,
    pub lock: File,
}

/// Reads ahead through a file with positioned reads.
pub(crate) struct PosReader<'a> {
    file: &'a File,
    len: u64,
    buf: Vec<u8>,
    start: u64,
    filled: usize,
}

impl<'a> PosReader<'a> {
    pub(crate) fn new(file: &'a File, len: u64) -> Self {
        PosReader {
            file,
            len,
            buf: vec![0; 256 << 10],
            start: 0,
            filled: 0,
        }
    }

    pub(crate) fn read(&mut self, pos: u64, out: &mut [u8]) -> std::io::Result<()> {
        let end = pos + out.len() as u64;
        if pos >= self.start && end <= self.start + self.filled as u64 {
            let at = (pos - self.start) as usize;
            out.copy_from_slice(&self.buf[at..at + out.len()]);
            return Ok(());
        }
        if out.len() > self.buf.len() / 2 {
            return self.file.read_exact_at(out, pos);
        }
        let n = (self.len - pos).min(self.buf.len() as u64) as usize;
        self.file.read_exact_at(&mut self.buf[..n], pos)?;
        self.start = pos;
        self.filled = n;
        out.copy_from_slice(&self.buf[..out.len()]);
        Ok(())
    }

    fn zeros_from(&mut self, mut pos: u64) -> std::io::Result<bool> {
        let mut chunk = [0u8; 4096];
        while pos < self.len {
            let n = (self.len - pos).min(chunk.len() as u64) as usize;
            self.read(pos, &mut chunk[..n])?;
            if chunk[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos += n as u64;
        }
        Ok(true)
    }
}

/// One record as recovery sees it.
struct Seen {
    kind: Kind,
    partition: u32,
    key: Bytes,
    entry: Entry,
}

/// Newest record per key, range tombstones and the partition catalog, built file by
/// file in any order.
#[derive(Default)]
struct Staging {
    keys: HashMap<u32, BTreeMap<Bytes, (Entry, bool)>>,
    /// Range tombstones per partition id, with their sequence numbers.
    ranges: HashMap<u32, Vec<(KeyRange, u64)>>,
    creates: HashMap<u32, (String, u64)>,
    drops: BTreeSet<u32>,
    max_seq: u64,
    max_pid: u32,
    max_key_len: usize,
}

impl Staging {
    fn apply(&mut self, s: Seen) {
        self.max_seq = self.max_seq.max(s.entry.seq);
        self.max_pid = self.max_pid.max(s.partition);
        match s.kind {
            Kind::Put | Kind::Delete => {
                let tomb = s.kind == Kind::Delete;
                let map = self.keys.entry(s.partition).or_default();
                match map.get_mut(&s.key) {
                    Some(old) if old.0.seq >= s.entry.seq => {}
                    Some(old) => *old = (s.entry, tomb),
                    None => {
                        map.insert(s.key, (s.entry, tomb));
                    }
                }
            }
            Kind::CreatePartition => {
                let name = String::from_utf8_lossy(&s.key).into_owned();
                self.creates.insert(s.partition, (name, s.entry.seq));
            }
            Kind::DropPartition => {
                self.drops.insert(s.partition);
            }
            Kind::DeleteRange => {
                // Checked when read (scan or hint); a record that fails is never here.
                if let Ok(range) = decode_range(&s.key, self.max_key_len) {
                    let ranges = self.ranges.entry(s.partition).or_default();
                    ranges.push((range, s.entry.seq));
                }
            }
        }
    }

    fn into_parts(mut self) -> BTreeMap<String, PartState> {
        let mut parts: BTreeMap<String, PartState> = BTreeMap::new();
        for (pid, (name, create_seq)) in self.creates {
            if self.drops.contains(&pid) || backend_api::Partition::parse(&name).is_err() {
                continue;
            }
            if parts.get(&name).is_some_and(|p| p.create_seq > create_seq) {
                continue;
            }
            let mut part = PartState {
                id: pid,
                create_seq,
                ..PartState::default()
            };
            let mut keys = self.keys.remove(&pid).unwrap_or_default();
            // A range tombstone hides every key of its range whose newest record is
            // older than it; newer records (later in the same batch, or after) stay.
            // A hidden key is removed at once, so no later tombstone visits it again.
            for (range, seq) in self.ranges.remove(&pid).unwrap_or_default() {
                let mut cursor = RangeCursor::new(&range);
                while let Some(key) = cursor.next_key(&keys) {
                    if keys.get(&key).is_some_and(|(e, _)| e.seq < seq) {
                        keys.remove(&key);
                    }
                }
            }
            for (key, (entry, tomb)) in keys {
                if !tomb {
                    part.insert(key, entry);
                }
            }
            parts.insert(name, part);
        }
        parts
    }
}

fn corruption(file: &str, offset: u64, why: &str) -> Error {
    Error::corruption(format!("{file}: bad record at offset {offset}: {why}"))
}

/// Opens the store in `cfg.dir`.
pub fn recover(cfg: &FileConfig, limits: &Limits) -> Result<Recovered> {
    let dir = cfg.dir.as_path();
    fs::create_dir_all(dir).at(dir)?;
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path(dir, LOCK_NAME))
        .at(dir)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(Error::locked(
                format!("{} is open elsewhere", dir.display()),
                None,
            ));
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(dir, e)),
    }
    let mut report = RecoveryReport::default();

    match Manifest::read(dir).at(dir)? {
        None => {}
        Some(Ok(m)) => match m.finish(dir).at(dir)? {
            Ok(()) => report.merge_finished = true,
            Err(why) => return Err(Error::corruption(format!("{}: {why}", dir.display()))),
        },
        Some(Err(why)) if cfg.repair => {
            remove_if_exists(&path(dir, crate::files::MANIFEST_NAME)).at(dir)?;
            report.dropped.push(DroppedRange {
                file: crate::files::MANIFEST_NAME.into(),
                offset: 0,
                bytes: 0,
                reason: why,
            });
        }
        Some(Err(why)) => {
            return Err(Error::corruption(format!("{}/MERGE: {why}", dir.display())));
        }
    }

    let mut data_ids = BTreeSet::new();
    let mut hint_ids = BTreeSet::new();
    for item in fs::read_dir(dir).at(dir)? {
        let item = item.at(dir)?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.ends_with(TMP_SUFFIX) {
            remove_if_exists(&item.path()).at(dir)?;
            report.orphans_removed.push(name);
            continue;
        }
        match parse_name(&name) {
            Some((id, FileType::Data)) => {
                data_ids.insert(id);
            }
            Some((id, FileType::Hint)) => {
                hint_ids.insert(id);
            }
            None => {}
        }
    }
    for id in hint_ids.difference(&data_ids) {
        remove_if_exists(&path(dir, &hint_name(*id))).at(dir)?;
        report.orphans_removed.push(hint_name(*id));
    }
    if !report.orphans_removed.is_empty() {
        sync_dir(dir).at(dir)?;
    }

    let mut staging = Staging {
        max_key_len: limits.max_key_len,
        ..Staging::default()
    };
    let mut state = State::default();
    let mut last_header = None;
    for &id in &data_ids {
        let name = data_name(id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path(dir, &name))
            .at(dir)?;
        let len = file.metadata().at(dir)?.len();
        let mut hb = [0u8; FILE_HEADER_LEN];
        let header = if len < FILE_HEADER_LEN as u64 {
            Err(format!("file is {len} bytes, shorter than its header"))
        } else {
            file.read_exact_at(&mut hb, 0).at(dir)?;
            FileHeader::decode(&hb).and_then(|h| {
                if h.kind != FILE_KIND_DATA || h.file_id != id {
                    Err("file header names another file or kind".into())
                } else {
                    Ok(h)
                }
            })
        };
        let header = match header {
            Ok(h) => h,
            Err(why) if cfg.repair => {
                report.dropped.push(DroppedRange {
                    file: name.clone(),
                    offset: 0,
                    bytes: len,
                    reason: why,
                });
                remove_if_exists(&path(dir, &hint_name(id))).at(dir)?;
                remove_if_exists(&path(dir, &name)).at(dir)?;
                sync_dir(dir).at(dir)?;
                continue;
            }
            Err(why) => return Err(corruption(&name, 0, &why)),
        };
        staging.max_seq = staging.max_seq.max(header.seq_floor);

        let mut valid_len = len;
        let hint = if hint_ids.contains(&id) {
            let hp = path(dir, &hint_name(id));
            match read_hint(&hp, id, len, limits).at(dir)? {
                Some(entries) => Some(entries),
                None => {
                    report.hints_rejected.push(hint_name(id));
                    remove_if_exists(&hp).at(dir)?;
                    None
                }
            }
        } else {
            None
        };
        let sealed = hint.is_some();
        if let Some(entries) = hint {
            report.hints_loaded += 1;
            for e in entries {
                staging.apply(Seen {
                    kind: e.kind,
                    partition: e.partition,
                    key: Bytes::from(e.key),
                    entry: Entry {
                        file_id: id,
                        offset: e.offset,
                        len: e.len,
                        seq: e.seq,
                        expiry: e.expiry,
                    },
                });
            }
        } else {
            report.files_scanned += 1;
            valid_len = scan_file(
                &file,
                &name,
                &header,
                len,
                limits,
                cfg.repair,
                &mut report,
                &mut staging,
            )?;
            if valid_len < len {
                file.set_len(valid_len).at(dir)?;
                file.sync_all().at(dir)?;
                report.truncated.push(TruncatedTail {
                    file: name.clone(),
                    offset: valid_len,
                    bytes: len - valid_len,
                });
            }
        }
        state.files.insert(id, Arc::new(file));
        state.sizes.insert(id, valid_len);
        state.total_bytes += valid_len;
        last_header = Some((header, sealed));
    }

    let next_seq = staging.max_seq + 1;
    let next_pid = staging.max_pid + 1;
    let next_file_id = data_ids.last().map_or(1, |id| id + 1);
    state.parts = staging.into_parts();
    state.live_bytes = state
        .parts
        .values()
        .flat_map(|p| p.keys.values())
        .map(|e| u64::from(e.len))
        .sum();

    // Keep appending to the newest file if it is an ordinary one of this format version
    // with room left and no hint (a hint means it was sealed: appending would make the
    // hint stale; an older version must never receive records it cannot describe).
    let active = match last_header {
        Some((h, false))
            if h.flags & FILE_FLAG_MERGED == 0
                && h.version == VERSION
                && report.dropped.is_empty() =>
        {
            let size = state.sizes[&h.file_id];
            (size < cfg.max_file_size).then(|| (h.file_id, state.files[&h.file_id].clone(), size))
        }
        _ => None,
    };
    Ok(Recovered {
        state,
        active,
        next_seq,
        next_file_id,
        next_pid,
        report,
        lock,
    })
}

/// Reads every record of one data file, applying whole records and committed batches.
/// Returns the length of the valid prefix (shorter than `len` after a torn tail).
#[allow(clippy::too_many_arguments)]
fn scan_file(
    file: &File,
    name: &str,
    header: &FileHeader,
    len: u64,
    limits: &Limits,
    repair: bool,
    report: &mut RecoveryReport,
    staging: &mut Staging,
) -> Result<u64> {
    let id = header.file_id;
    let mut r = PosReader::new(file, len);
    let mut pos = FILE_HEADER_LEN as u64;
    let mut pending: Vec<Seen> = Vec::new();
    let mut batch_start: Option<u64> = None;
    let mut rec = Vec::new();
    let mut hb = [0u8; RECORD_HEADER_LEN];
    while pos < len {
        let remaining = len - pos;
        // A torn tail: an incomplete header, a record running past the end, or a zeroed
        // (preallocated, never written) tail. Cut back to the last committed record.
        if remaining < RECORD_HEADER_LEN as u64 {
            return Ok(batch_start.unwrap_or(pos));
        }
        r.read(pos, &mut hb).at(name)?;
        let problem = match RecordHeader::decode(&hb) {
            Err(HeaderError::Checksum) => {
                if r.zeros_from(pos).at(name)? {
                    return Ok(batch_start.unwrap_or(pos));
                }
                Some("record header checksum mismatch".to_string())
            }
            Err(HeaderError::Invalid(why)) => Some(why),
            Ok(h) => match limits.check(&h) {
                Err(why) => Some(why),
                Ok(()) if h.total_len() > remaining => return Ok(batch_start.unwrap_or(pos)),
                Ok(()) => {
                    rec.resize(h.total_len() as usize, 0);
                    r.read(pos, &mut rec).at(name)?;
                    let key = &rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.key_len as usize];
                    if !record_crc_ok(&rec) {
                        Some("record checksum mismatch".to_string())
                    } else if h.kind == Kind::DeleteRange && header.version < RANGE_DELETE_VERSION {
                        Some(format!(
                            "range tombstone in a version {} file",
                            header.version
                        ))
                    } else if let Err(why) = limits.check_key_field(h.kind, key) {
                        Some(why)
                    } else {
                        let seen = Seen {
                            kind: h.kind,
                            partition: h.partition,
                            key: Bytes::copy_from_slice(key),
                            entry: Entry {
                                file_id: id,
                                offset: pos,
                                len: h.total_len() as u32,
                                seq: h.seq,
                                expiry: h.expiry,
                            },
                        };
                        frame(h.flags, seen, pos, &mut pending, &mut batch_start, staging).err()
                    }
                }
            },
        };
        match problem {
            None => pos += rec_len_at(&hb),
            Some(why) if !repair => return Err(corruption(name, pos, &why)),
            Some(why) => {
                let bad_from = batch_start.take().unwrap_or(pos);
                pending.clear();
                let next = resync(&mut r, pos + 1, limits)?;
                report.dropped.push(DroppedRange {
                    file: name.to_owned(),
                    offset: bad_from,
                    bytes: next.unwrap_or(len) - bad_from,
                    reason: why,
                });
                match next {
                    Some(p) => pos = p,
                    None => return Ok(bad_from),
                }
            }
        }
    }
    Ok(batch_start.unwrap_or(pos))
}

fn rec_len_at(hb: &[u8]) -> u64 {
    RECORD_HEADER_LEN as u64
        + u64::from(crate::format::u32_at(hb, 32))
        + u64::from(crate::format::u32_at(hb, 36))
}

/// Applies a record under the batch framing rules.
fn frame(
    flags: u8,
    seen: Seen,
    pos: u64,
    pending: &mut Vec<Seen>,
    batch_start: &mut Option<u64>,
    staging: &mut Staging,
) -> std::result::Result<(), String> {
    if flags == 0 {
        if batch_start.is_some() {
            return Err("plain record inside an unfinished batch".into());
        }
        staging.apply(seen);
        return Ok(());
    }
    debug_assert!(flags & FLAG_BATCH != 0);
    if flags & FLAG_BEGIN != 0 {
        if batch_start.is_some() {
            return Err("batch begins inside another batch".into());
        }
        *batch_start = Some(pos);
    } else if batch_start.is_none() {
        return Err("batch record without its beginning".into());
    }
    pending.push(seen);
    if flags & FLAG_END != 0 {
        for s in pending.drain(..) {
            staging.apply(s);
        }
        *batch_start = None;
    }
    Ok(())
}

/// Repair mode: the next offset at or after `from` holding a whole valid record.
fn resync(r: &mut PosReader<'_>, from: u64, limits: &Limits) -> Result<Option<u64>> {
    let mut hb = [0u8; RECORD_HEADER_LEN];
    let mut rec = Vec::new();
    let mut p = from;
    while p + RECORD_HEADER_LEN as u64 <= r.len {
        r.read(p, &mut hb).at("data file (repair scan)")?;
        if let Ok(h) = RecordHeader::decode(&hb)
            && limits.check(&h).is_ok()
            && h.total_len() <= r.len - p
        {
            rec.resize(h.total_len() as usize, 0);
            r.read(p, &mut rec).at("data file (repair scan)")?;
            let key = &rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.key_len as usize];
            if record_crc_ok(&rec) && limits.check_key_field(h.kind, key).is_ok() {
                return Ok(Some(p));
            }
        }
        p += 1;
    }
    Ok(None)
}
