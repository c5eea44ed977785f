//! Open: lock, finish or discard an interrupted merge, load hints or scan data files,
//! cut torn tails, rebuild the keydir (highest sequence number wins).

use std::collections::BTreeSet;
use std::sync::Arc;

use backend_api::Result;
use bytes::Bytes;

use crate::config::FileConfig;
use crate::error::{IoAt, corrupt, unsupported_version};
use crate::files::{
    Dir, FileType, Handle, MANIFEST_NAME, TMP_SUFFIX, data_name, hint_name, parse_name,
};
use crate::format::{FILE_HEADER_LEN, FILE_KIND_DATA, FileHeader, Limits};
use crate::hint::read_hint;
use crate::io::{OpenMode, VfsLock};
use crate::keydir::{Entry, State};
use crate::manifest::Manifest;
use crate::reader::{Framed, Framing, Records, Step};

mod staging;

use staging::{Seen, Staging};

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

/// The state open hands to the store.
pub struct Recovered {
    /// The keydir and the open data files.
    pub state: State,
    /// Data files without a hint (id, file, length), the newest included: every file
    /// found is sealed (open never appends to one), and the background thread writes
    /// their hints.
    pub unhinted: Vec<(u64, Arc<Handle>, u64)>,
    /// Next sequence number.
    pub next_seq: u64,
    /// Next file id.
    pub next_file_id: u64,
    /// Next partition id.
    pub next_pid: u32,
    /// What open found and did.
    pub report: RecoveryReport,
    /// The store's lock, held while it is open.
    pub lock: Box<dyn VfsLock>,
}

/// Opens the store in `dir`.
pub fn recover(cfg: &FileConfig, dir: &Dir, limits: &Limits) -> Result<Recovered> {
    dir.create()?;
    let lock = dir.lock()?;
    let mut report = RecoveryReport::default();

    match Manifest::read(dir)? {
        None => {}
        Some(Ok(m)) => match m.finish(dir)? {
            Ok(()) => report.merge_finished = true,
            Err(why) => return Err(corrupt(dir.join(MANIFEST_NAME), 0, why)),
        },
        Some(Err(why)) if cfg.repair => {
            dir.remove_if_exists(MANIFEST_NAME)?;
            report.dropped.push(DroppedRange {
                file: MANIFEST_NAME.into(),
                offset: 0,
                bytes: 0,
                reason: why,
            });
        }
        Some(Err(why)) => return Err(corrupt(dir.join(MANIFEST_NAME), 0, why)),
    }

    let mut data_ids = BTreeSet::new();
    let mut hint_ids = BTreeSet::new();
    for name in dir.list()? {
        if name.ends_with(TMP_SUFFIX) {
            dir.remove_if_exists(&name)?;
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
        dir.remove_if_exists(&hint_name(*id))?;
        report.orphans_removed.push(hint_name(*id));
    }
    if !report.orphans_removed.is_empty() {
        dir.sync()?;
    }

    let mut staging = Staging::new(limits.max_key_len);
    let mut state = State::default();
    let mut unhinted = Vec::new();
    let mut emptied = false;
    for &id in &data_ids {
        let name = data_name(id);
        let file = dir.open(&name, OpenMode::ReadWrite)?;
        let len = file.len()?;
        let header = match read_header(&file, id, len)? {
            Ok(h) => h,
            Err(why) if cfg.repair => {
                report.dropped.push(DroppedRange {
                    file: name.clone(),
                    offset: 0,
                    bytes: len,
                    reason: why,
                });
                dir.remove_if_exists(&hint_name(id))?;
                dir.remove_if_exists(&name)?;
                dir.sync()?;
                continue;
            }
            Err(why) => return Err(corrupt(file.path(), 0, why)),
        };
        staging.max_seq = staging.max_seq.max(header.seq_floor);

        let mut valid_len = len;
        let hint = if hint_ids.contains(&id) {
            match read_hint(dir, id, len, limits)? {
                Some(hint) => Some(hint),
                None => {
                    report.hints_rejected.push(hint_name(id));
                    dir.remove_if_exists(&hint_name(id))?;
                    None
                }
            }
        } else {
            None
        };
        let sealed = hint.is_some();
        if let Some(hint) = hint {
            report.hints_loaded += 1;
            staging.apply_hint(&hint, id);
        } else {
            report.files_scanned += 1;
            let mut scan = Scan {
                file: &file,
                limits,
                repair: cfg.repair,
                report: &mut report,
                staging: &mut staging,
            };
            valid_len = scan.run(&header, len)?;
            if valid_len < len {
                file.set_len(valid_len)?;
                report.truncated.push(TruncatedTail {
                    file: name.clone(),
                    offset: valid_len,
                    bytes: len - valid_len,
                });
            }
            // What was read may be only in the OS (a process killed under
            // `SyncPolicy::Never`): durable before any newer file gets a record, so a
            // power cut keeps a prefix of the writes.
            file.sync_data()?;
        }
        if valid_len == FILE_HEADER_LEN as u64 && !cfg.repair {
            // No records (an unused spare or active file left by a crash): nothing to
            // keep. Its sequence floor still counts for this open.
            dir.remove_if_exists(&hint_name(id))?;
            dir.remove_if_exists(&name)?;
            emptied = true;
            continue;
        }
        let file = Arc::new(file);
        if !sealed {
            unhinted.push((id, file.clone(), valid_len));
        }
        state.files.insert(id, file);
        state.sizes.insert(id, valid_len);
        state.total_bytes += valid_len;
    }
    if emptied {
        dir.sync()?;
    }

    let next_seq = staging.max_seq + 1;
    let next_pid = staging.max_pid + 1;
    let next_file_id = data_ids.last().map_or(1, |id| id + 1);
    state.parts = staging.into_parts();
    state.live_bytes = state
        .parts
        .values()
        .flat_map(|p| p.keys().values())
        .map(|e| u64::from(e.len))
        .sum();

    // Open never appends to a file it found: after a failed `fdatasync` the OS may
    // have dropped pages it still reads back, and records appended behind them would
    // follow a hole after a power cut. Writes start a new file; every file found
    // without a hint gets one in the background (a repaired store is merged instead).
    if !report.dropped.is_empty() {
        unhinted.clear();
    }
    Ok(Recovered {
        state,
        unhinted,
        next_seq,
        next_file_id,
        next_pid,
        report,
        lock,
    })
}

/// Reads and checks data file `id`'s header. `Ok(Err(why))`: damaged (repair mode may
/// drop the file); a whole header of a format version this build does not read is
/// [`Error::UnsupportedVersion`](backend_api::Error::UnsupportedVersion), repair mode
/// or not.
fn read_header(file: &Handle, id: u64, len: u64) -> Result<Result<FileHeader, String>> {
    if len < FILE_HEADER_LEN as u64 {
        return Ok(Err(format!("file is {len} bytes, shorter than its header")));
    }
    let mut hb = [0u8; FILE_HEADER_LEN];
    file.read_exact_at(&mut hb, 0)?;
    if let Some(found) = FileHeader::unsupported_version(&hb) {
        return Err(unsupported_version(file.path(), found));
    }
    Ok(FileHeader::decode(&hb).and_then(|h| {
        if h.kind != FILE_KIND_DATA || h.file_id != id {
            Err("file header names another file or kind".into())
        } else {
            Ok(h)
        }
    }))
}

/// The scan of one data file without a usable hint.
struct Scan<'a> {
    file: &'a Handle,
    limits: &'a Limits,
    repair: bool,
    report: &'a mut RecoveryReport,
    staging: &'a mut Staging,
}

impl Scan<'_> {
    /// Reads every record, applying whole records and committed batches. Returns the
    /// length of the valid prefix (shorter than `len` after a torn tail or, in repair
    /// mode, a damaged end).
    fn run(&mut self, header: &FileHeader, len: u64) -> Result<u64> {
        let file = self.file;
        let mut records = Records::new(file.raw(), len, self.limits, header.version);
        let mut framing = Framing::default();
        let mut pending: Vec<Seen> = Vec::new();
        loop {
            let pos = records.pos();
            let why = match records.next().at(file.path())? {
                Step::End | Step::Torn => return Ok(framing.open_at().unwrap_or(pos)),
                Step::Bad { why, .. } => why,
                Step::Record(rec) => {
                    let seen = Seen {
                        kind: rec.header.kind,
                        partition: rec.header.partition,
                        key: Bytes::copy_from_slice(rec.key()),
                        entry: Entry {
                            file_id: header.file_id,
                            offset: rec.pos,
                            len: rec.len() as u32,
                            seq: rec.header.seq,
                            expiry: rec.header.expiry,
                        },
                    };
                    match framing.step(rec.header.flags, rec.pos) {
                        Ok(framed) => {
                            self.take(framed, seen, &mut pending);
                            continue;
                        }
                        Err(why) => why.to_owned(),
                    }
                }
            };
            if let Some(end) = self.drop_bad(&mut records, &mut framing, &mut pending, pos, why)? {
                return Ok(end);
            }
        }
    }

    /// Applies a record as its framing says: now, held for its batch, or with the
    /// batch it commits.
    fn take(&mut self, framed: Framed, seen: Seen, pending: &mut Vec<Seen>) {
        match framed {
            Framed::Plain => self.staging.apply(seen),
            Framed::Held => pending.push(seen),
            Framed::Commit => {
                pending.push(seen);
                pending.drain(..).for_each(|s| self.staging.apply(s));
            }
        }
    }

    /// A bad record at `pos`: an error, or in repair mode the range from it (or from the
    /// batch it broke) to the next whole record is dropped and reported. `Some(end)`:
    /// nothing valid follows, the file ends at `end`.
    fn drop_bad(
        &mut self,
        records: &mut Records<'_>,
        framing: &mut Framing,
        pending: &mut Vec<Seen>,
        pos: u64,
        why: String,
    ) -> Result<Option<u64>> {
        let path = self.file.path();
        if !self.repair {
            return Err(corrupt(path, pos, why));
        }
        let bad_from = framing.take_open().unwrap_or(pos);
        pending.clear();
        let found = records.resync(pos + 1).at(path)?;
        self.report.dropped.push(DroppedRange {
            file: path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            offset: bad_from,
            bytes: records.pos() - bad_from,
            reason: why,
        });
        Ok((!found).then_some(bad_from))
    }
}
