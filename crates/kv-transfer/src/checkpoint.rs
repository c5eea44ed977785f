//! The copy checkpoint: per partition, done or the last key written.
//!
//! A small text file, replaced atomically (write `NAME.tmp`, rename) after every batch:
//!
//! ```text
//! kvb-copy-checkpoint 1
//! tag <hex of the copy's tag, e.g. its two URLs>
//! done <partition> <pairs>
//! at <partition> <pairs> <hex of the last key written>
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::{Result, TransferError};

const FIRST_LINE: &str = "kvb-copy-checkpoint 1";

/// Where one partition's copy stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Every pair was written.
    Done(u64),
    /// `0` pairs were written, the last being key `1`.
    At(u64, Bytes),
}

/// The checkpoint of one copy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the copy; a checkpoint with another tag is refused.
    pub tag: String,
    /// Partition name to mark; partitions not listed have not started.
    pub marks: BTreeMap<String, Mark>,
}

use crate::hex::{decode as unhex, encode as hex};

impl Checkpoint {
    /// Reads `path`: `Ok(None)` if it does not exist.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TransferError::io(format!(
                    "reading checkpoint {}",
                    path.display()
                ))(e));
            }
        };
        let bad = |line: usize| TransferError::Checkpoint {
            path: path.to_owned(),
            detail: format!(
                "line {} is not understood; delete the file to start over",
                line + 1
            ),
        };
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l) != Some(FIRST_LINE) {
            return Err(bad(0));
        }
        let mut cp = Checkpoint::default();
        for (n, line) in lines {
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["tag", t] => {
                    cp.tag =
                        String::from_utf8(unhex(t).ok_or_else(|| bad(n))?).map_err(|_| bad(n))?
                }
                ["done", p, k] => {
                    cp.marks
                        .insert((*p).to_owned(), Mark::Done(k.parse().map_err(|_| bad(n))?));
                }
                ["at", p, k, key] => {
                    let key = unhex(key).filter(|k| !k.is_empty()).ok_or_else(|| bad(n))?;
                    cp.marks.insert(
                        (*p).to_owned(),
                        Mark::At(k.parse().map_err(|_| bad(n))?, key.into()),
                    );
                }
                _ => return Err(bad(n)),
            }
        }
        Ok(Some(cp))
    }

    /// Replaces `path` with this checkpoint (write a temporary file, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = format!("{FIRST_LINE}\ntag {}\n", hex(self.tag.as_bytes()));
        for (p, mark) in &self.marks {
            match mark {
                Mark::Done(n) => text.push_str(&format!("done {p} {n}\n")),
                Mark::At(n, key) => text.push_str(&format!("at {p} {n} {}\n", hex(key))),
            }
        }
        let tmp = tmp_path(path);
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(TransferError::io(format!(
                "writing checkpoint {}",
                path.display()
            )))
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let mut cp = Checkpoint {
            tag: "a -> b c".into(),
            ..Default::default()
        };
        cp.marks.insert("users".into(), Mark::Done(7));
        cp.marks
            .insert("x".into(), Mark::At(3, Bytes::from_static(b"\x00\xffk")));
        cp.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(cp));
        std::fs::write(&path, "kvb-copy-checkpoint 1\nat x 1 zz\n").unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
