//! A full checksum pass over every file of a store, without opening it.

use std::path::PathBuf;

use backend_api::Result;

use crate::FileConfig;
use crate::error::IoAt;
use crate::files::{Dir, FileType, Handle, data_name, parse_name};
use crate::format::{FILE_HEADER_LEN, FILE_KIND_DATA, FileHeader, Limits};
use crate::io::OpenMode;
use crate::reader::{Records, Step};

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
pub fn verify_dir(config: &FileConfig) -> Result<VerifyReport> {
    let limits = config.limits();
    let dir = Dir::new(&config.dir, config.vfs().clone());
    let mut names: Vec<(u64, FileType, String)> = dir
        .list()?
        .into_iter()
        .filter_map(|name| {
            let (id, kind) = parse_name(&name)?;
            Some((id, kind, name))
        })
        .collect();
    names.sort_by_key(|(id, kind, _)| (*id, *kind == FileType::Hint));
    let mut report = VerifyReport::default();
    for (id, kind, name) in names {
        report.files += 1;
        match kind {
            FileType::Data => {
                let file = dir.open(&name, OpenMode::Read)?;
                verify_data(&file, &limits, &mut report)?;
            }
            FileType::Hint => {
                let data_len = match dir.open(&data_name(id), OpenMode::Read) {
                    Ok(f) => f.len()?,
                    Err(_) => 0,
                };
                if crate::hint::read_hint(&dir, id, data_len, &limits)?.is_none() {
                    report.issues.push(VerifyIssue {
                        file: dir.join(&name),
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

fn verify_data(file: &Handle, limits: &Limits, report: &mut VerifyReport) -> Result<()> {
    let len = file.len()?;
    let issue = |offset: u64, detail: String, corrupt: bool| VerifyIssue {
        file: file.path().to_owned(),
        offset,
        detail,
        corrupt,
    };
    if len < FILE_HEADER_LEN as u64 {
        report.issues.push(issue(
            0,
            format!("file is {len} bytes, shorter than its header"),
            true,
        ));
        return Ok(());
    }
    let mut head = [0u8; FILE_HEADER_LEN];
    file.read_exact_at(&mut head, 0)?;
    let version = match FileHeader::decode(&head) {
        Ok(h) if h.kind == FILE_KIND_DATA => h.version,
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
    };
    let mut records = Records::new(file.raw(), len, limits, version);
    loop {
        let pos = records.pos();
        match records.next().at(file.path())? {
            Step::End => break,
            Step::Record(_) => report.records += 1,
            Step::Torn => {
                let left = records.len() - pos;
                let detail = format!("torn tail: {left} bytes from here hold no whole record");
                report.issues.push(issue(pos, detail, false));
                break;
            }
            Step::Bad { why, len: Some(n) } => {
                // The header is sound: report the record and go on after it.
                report.records += 1;
                report.issues.push(issue(pos, why, true));
                records.skip(n);
            }
            Step::Bad { why, len: None } => {
                let detail = format!("{why}; the rest of the file is not checked");
                report.issues.push(issue(pos, detail, true));
                break;
            }
        }
    }
    report.bytes += len;
    Ok(())
}
