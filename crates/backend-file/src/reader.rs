//! The one record reader: walks a data file record by record, checking every header
//! checksum, limit, record checksum and key field, and the batch framing rules.
//!
//! Recovery (scan of a file without a hint, repair-mode resync), hint building for a
//! sealed file and `verify_dir` all read through [`Records`] and [`Framing`], so what
//! counts as a whole record, a torn tail or corruption is decided in one place.
//!
//! A torn tail is what a crash can leave at the end of the file being appended to: a
//! header cut short, a record running past the end, or a record whose last bytes are
//! zeros running on to the end of the file (a filesystem extends a file with zeros
//! before the data lands). Anything else that fails a check is corruption.

use std::io;

use crate::format::{
    FILE_HEADER_LEN, FLAG_BATCH, FLAG_BEGIN, FLAG_END, HeaderError, Kind, Limits,
    RANGE_DELETE_VERSION, RECORD_HEADER_LEN, RecordHeader, record_crc_ok,
};
use crate::io::VfsFile;

/// Reads ahead through a file with positioned reads (256 KiB at a time).
pub(crate) struct PosReader<'a> {
    file: &'a dyn VfsFile,
    len: u64,
    buf: Vec<u8>,
    start: u64,
    filled: usize,
}

impl<'a> PosReader<'a> {
    /// A reader of the first `len` bytes of `file`.
    pub(crate) fn new(file: &'a dyn VfsFile, len: u64) -> Self {
        PosReader {
            file,
            len,
            buf: vec![0; 256 << 10],
            start: 0,
            filled: 0,
        }
    }

    /// The length being read.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Fills `out` from `pos` (which the caller keeps within `len`).
    pub(crate) fn read(&mut self, pos: u64, out: &mut [u8]) -> io::Result<()> {
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

    /// True when every byte from `pos` to the end is zero.
    fn zeros_from(&mut self, mut pos: u64) -> io::Result<bool> {
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

/// A whole record whose checksums and limits hold.
pub(crate) struct Record<'r> {
    /// Its offset in the file.
    pub pos: u64,
    /// Its header.
    pub header: RecordHeader,
    /// All its bytes: header, key, value.
    pub bytes: &'r [u8],
}

impl Record<'_> {
    /// The key field (for a range tombstone, the encoded range).
    pub fn key(&self) -> &[u8] {
        &self.bytes[RECORD_HEADER_LEN..RECORD_HEADER_LEN + self.header.key_len as usize]
    }

    /// Length of the whole record.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// What [`Records::next`] found at the current position.
pub(crate) enum Step<'r> {
    /// A whole, valid record; the reader has moved past it.
    Record(Record<'r>),
    /// The file ends cleanly here.
    End,
    /// A torn tail starts here (nothing valid follows); the reader stays.
    Torn,
    /// The record here fails a check (corruption); the reader stays. `len`: its length
    /// when its header was valid, so a caller that reports and goes on can
    /// [`skip`](Records::skip) it.
    Bad {
        /// What is wrong.
        why: String,
        /// The record's length, when its header can be trusted.
        len: Option<u64>,
    },
}

/// The records of one data file, from just after its file header.
pub(crate) struct Records<'a> {
    r: PosReader<'a>,
    pos: u64,
    limits: &'a Limits,
    version: u16,
    rec: Vec<u8>,
}

impl<'a> Records<'a> {
    /// Reads the first `len` bytes of `file`, whose file header (already checked) says
    /// format `version`.
    pub(crate) fn new(file: &'a dyn VfsFile, len: u64, limits: &'a Limits, version: u16) -> Self {
        Records {
            r: PosReader::new(file, len),
            pos: FILE_HEADER_LEN as u64,
            limits,
            version,
            rec: Vec::new(),
        }
    }

    /// The current position.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The length being read.
    pub(crate) fn len(&self) -> u64 {
        self.r.len()
    }

    /// Moves past a [`Step::Bad`] record of length `len`.
    pub(crate) fn skip(&mut self, len: u64) {
        self.pos = (self.pos + len).min(self.r.len());
    }

    /// Checks the record at the current position.
    pub(crate) fn next(&mut self) -> io::Result<Step<'_>> {
        let pos = self.pos;
        let len = self.r.len();
        if pos >= len {
            return Ok(Step::End);
        }
        if len - pos < RECORD_HEADER_LEN as u64 {
            return Ok(Step::Torn);
        }
        let mut hb = [0u8; RECORD_HEADER_LEN];
        self.r.read(pos, &mut hb)?;
        let h = match RecordHeader::decode(&hb) {
            Ok(h) => h,
            // A header cut short by a zero-filled extension: torn, not corrupt.
            Err(HeaderError::Checksum)
                if self.zero_tail_within(pos, RECORD_HEADER_LEN as u64)? =>
            {
                return Ok(Step::Torn);
            }
            Err(HeaderError::Checksum) => return Ok(bad("record header checksum mismatch", None)),
            Err(HeaderError::Invalid(why)) => return Ok(bad(why, None)),
        };
        if let Err(why) = self.limits.check(&h) {
            return Ok(bad(why, None));
        }
        let total = h.total_len();
        if total > len - pos {
            return Ok(Step::Torn);
        }
        self.rec.resize(total as usize, 0);
        self.r.read(pos, &mut self.rec)?;
        if !record_crc_ok(&self.rec) {
            if self.zero_tail_within(pos, total)? {
                return Ok(Step::Torn);
            }
            return Ok(bad("record checksum mismatch", Some(total)));
        }
        if h.kind == Kind::DeleteRange && self.version < RANGE_DELETE_VERSION {
            let why = format!("range tombstone in a version {} file", self.version);
            return Ok(bad(why, Some(total)));
        }
        let key = &self.rec[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.key_len as usize];
        if let Err(why) = self.limits.check_key_field(h.kind, key) {
            return Ok(bad(why, Some(total)));
        }
        self.pos += total;
        Ok(Step::Record(Record {
            pos,
            header: h,
            bytes: &self.rec,
        }))
    }

    /// True when the record of `len` bytes at `pos` ends in zeros that run on to the end
    /// of the file: what a write cut short leaves when the file's new length reached the
    /// disk but not all of its data (the filesystem fills the gap with zeros). Such a
    /// record is a torn tail. (A record damaged in the middle of its bytes, or followed
    /// by anything but zeros, stays corruption.)
    fn zero_tail_within(&mut self, pos: u64, len: u64) -> io::Result<bool> {
        let last = (pos + len).min(self.r.len()) - 1;
        self.r.zeros_from(last)
    }

    /// Repair mode: moves to the first offset at or after `from` that holds a whole
    /// valid record; false (and at the end) if there is none.
    pub(crate) fn resync(&mut self, from: u64) -> io::Result<bool> {
        let len = self.r.len();
        let mut p = from;
        while p + RECORD_HEADER_LEN as u64 <= len {
            self.pos = p;
            if let Step::Record(_) = self.next()? {
                self.pos = p;
                return Ok(true);
            }
            p += 1;
        }
        self.pos = len;
        Ok(false)
    }
}

fn bad<'r>(why: impl Into<String>, len: Option<u64>) -> Step<'r> {
    Step::Bad {
        why: why.into(),
        len,
    }
}

/// What a record's flags mean for the batch it may belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framed {
    /// A record of its own: it applies now.
    Plain,
    /// Part of a batch that is not finished yet: hold it.
    Held,
    /// The last record of a batch: it and every held record apply now.
    Commit,
}

/// The batch framing rules: a batch is a run of records flagged `BATCH`, the first also
/// `BEGIN`, the last also `END`; nothing else may come between them. A batch without its
/// `END` at the end of a file is a torn tail, cut back to where it began.
#[derive(Debug, Default)]
pub(crate) struct Framing {
    open_at: Option<u64>,
}

impl Framing {
    /// Classifies the record at `pos` with `flags`; an error names the broken rule.
    pub(crate) fn step(&mut self, flags: u8, pos: u64) -> Result<Framed, &'static str> {
        if flags == 0 {
            if self.open_at.is_some() {
                return Err("plain record inside an unfinished batch");
            }
            return Ok(Framed::Plain);
        }
        debug_assert!(flags & FLAG_BATCH != 0);
        if flags & FLAG_BEGIN != 0 {
            if self.open_at.is_some() {
                return Err("batch begins inside another batch");
            }
            self.open_at = Some(pos);
        } else if self.open_at.is_none() {
            return Err("batch record without its beginning");
        }
        if flags & FLAG_END != 0 {
            self.open_at = None;
            return Ok(Framed::Commit);
        }
        Ok(Framed::Held)
    }

    /// Where the unfinished batch began, if one is open.
    pub(crate) fn open_at(&self) -> Option<u64> {
        self.open_at
    }

    /// Forgets an unfinished batch (repair mode drops it).
    pub(crate) fn take_open(&mut self) -> Option<u64> {
        self.open_at.take()
    }
}
