//! A full checksum pass over every file of a store, without opening it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use backend_api::DEFAULT_MAX_KEY_LEN;

use crate::FileConfig;
use crate::files::{FileType, parse_name};
use crate::format::{
    FILE_HEADER_LEN, FILE_KIND_DATA, FileHeader, HeaderError, Limits, RECORD_HEADER_LEN,
    RecordHeader, record_crc_ok,
};

/// One problem [`verify_dir`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyIssue {
    /// The file.
    pub file: PathBuf,
    /// Byte offset of the bad header or record in it.
    pub offset: u64,
    /// What failed.
    pub detail: String,
    /// False for what open repairs by itself without losing an acknowledged write (a
    /// torn tail, an unusable hint); true for corruption.
    pub corrupt: bool,
}

/// What [`verify_dir`] read and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Data and hint files checked.
    pub files: u64,
    /// Records whose checksums were checked.
    pub records: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Every problem, in file order.
    pub issues: Vec<VerifyIssue>,
}

impl VerifyReport {
    /// True when no issue is corruption.
    pub fn is_clean(&self) -> bool {
        self.issues.iter().all(|i| !i.corrupt)
    }
}

/// Reads every data file of the store in `config.dir` record by record, checking the
/// file header, each record's header checksum, limits and whole-record checksum, and
/// every hint file; reports each failure with its file and offset. Reads only: it does
/// not take the store's lock, so run it on a closed store (on an open one the active
/// file's last record may show as a torn tail). A record whose header fails its
/// checksum ends the pass over that file (later lengths cannot be trusted).
pub fn verify_dir(config: &FileConfig) -> std::io::Result<VerifyReport> {
    let limits = Limits {
        max_key_len: DEFAULT_MAX_KEY_LEN,
        max_value_len: config.max_value_len(),
        max_record_size: config.max_record_size,
    };
    let mut names: Vec<(u64, FileType, PathBuf)> = std::fs::read_dir(&config.dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let (id, kind) = parse_name(e.file_name().to_str()?)?;
            Some((id, kind, e.path()))
        })
        .collect();
    names.sort_by_key(|(id, kind, _)| (*id, *kind == FileType::Hint));
    let mut report = VerifyReport::default();
    for (id, kind, path) in names {
        report.files += 1;
        match kind {
            FileType::Data => verify_data(&path, &limits, &mut report)?,
            FileType::Hint => {
                let data_len =
                    std::fs::metadata(path.with_extension("data")).map_or(0, |m| m.len());
                if crate::hint::read_hint(&path, id, data_len, &limits)?.is_none() {
                    report.issues.push(VerifyIssue {
                        file: path,
                        offset: 0,
                        detail: "hint file unusable (checksum or entries); open scans the data file instead".into(),
                        corrupt: false,
                    });
                }
            }
        }
    }
    Ok(report)
}

fn verify_data(path: &Path, limits: &Limits, report: &mut VerifyReport) -> std::io::Result<()> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let issue = |offset: u64, detail: String, corrupt: bool| VerifyIssue {
        file: path.to_owned(),
        offset,
        detail,
        corrupt,
    };
    let mut head = [0u8; FILE_HEADER_LEN];
    if len < FILE_HEADER_LEN as u64 {
        report.issues.push(issue(
            0,
            format!("file is {len} bytes, shorter than its header"),
            true,
        ));
        return Ok(());
    }
    r.read_exact(&mut head)?;
    match FileHeader::decode(&head) {
        Ok(h) if h.kind == FILE_KIND_DATA => {}
        Ok(h) => {
            report.issues.push(issue(
                0,
                format!("file header kind {} in a .data file", h.kind),
                true,
            ));
            return Ok(());
        }
        Err(e) => {
            report.issues.push(issue(0, e, true));
            return Ok(());
        }
    }
    let mut pos = FILE_HEADER_LEN as u64;
    let mut rec = Vec::new();
    while pos < len {
        let left = len - pos;
        if left < RECORD_HEADER_LEN as u64 {
            report.issues.push(issue(
                pos,
                format!("torn tail: {left} bytes, shorter than a record header"),
                false,
            ));
            break;
        }
        rec.resize(RECORD_HEADER_LEN, 0);
        r.read_exact(&mut rec)?;
        let h = match RecordHeader::decode(&rec) {
            Ok(h) => h,
            Err(HeaderError::Checksum) => {
                report.issues.push(issue(
                    pos,
                    "record header checksum mismatch; the rest of the file is not checked".into(),
                    true,
                ));
                break;
            }
            Err(HeaderError::Invalid(e)) => {
                report
                    .issues
                    .push(issue(pos, format!("invalid record header: {e}"), true));
                break;
            }
        };
        if let Err(e) = limits.check(&h) {
            report.issues.push(issue(
                pos,
                format!("record header over the limits: {e}"),
                true,
            ));
            break;
        }
        let total = h.total_len();
        if total > left {
            report.issues.push(issue(
                pos,
                format!("torn tail: a {total}-byte record with {left} bytes left"),
                false,
            ));
            break;
        }
        rec.resize(total as usize, 0);
        r.read_exact(&mut rec[RECORD_HEADER_LEN..])?;
        if !record_crc_ok(&rec) {
            report.issues.push(issue(
                pos,
                "record checksum mismatch (key or value damaged)".into(),
                true,
            ));
        } else if let Err(e) = limits.check_key_field(
            h.kind,
            &rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.key_len as usize],
        ) {
            report
                .issues
                .push(issue(pos, format!("bad range tombstone: {e}"), true));
        }
        report.records += 1;
        pos += total;
    }
    report.bytes += len;
    Ok(())
}
