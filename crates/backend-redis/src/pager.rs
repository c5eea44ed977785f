//! The lex-index pager shared by scans and `partition_size`: pages of a partition's
//! sorted set (`ZRANGEBYLEX` / `ZREVRANGEBYLEX ... LIMIT 0 n`), the cursor being the last
//! member seen, so memory is one page whatever the partition's size.
//!
//! The first page can ride with a read of the partition marker in one pipeline (one
//! round trip answers both "does the partition exist" and "what comes first").

use backend_api::{Bytes, KeyRange, Result, ScanRange};
use redis::Cmd;

use crate::calls::Calls;

/// A lex bound in `ZRANGEBYLEX` syntax: `marker` (`[` inclusive, `(` exclusive)
/// followed by the raw key bytes (any bytes, 0x00 and 0xFF included).
pub(crate) fn bound(marker: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(marker);
    out.extend_from_slice(key);
    out
}

/// `min` and `max` of `range` in `ZRANGEBYLEX` syntax (`-` and `+` for the open ends).
pub(crate) fn lex_range(range: &KeyRange) -> (Vec<u8>, Vec<u8>) {
    lex_bounds(range.start.as_deref(), range.end.as_deref())
}

/// `[lower` (or `-`) and `(upper` (or `+`).
fn lex_bounds(lower: Option<&[u8]>, upper: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    (
        lower.map_or_else(|| b"-".to_vec(), |l| bound(b'[', l)),
        upper.map_or_else(|| b"+".to_vec(), |u| bound(b'(', u)),
    )
}

/// Where a walk of one index stands.
pub(crate) struct Pager {
    index: Vec<u8>,
    /// The lex range still to visit.
    min: Vec<u8>,
    max: Vec<u8>,
    reverse: bool,
    done: bool,
}

impl Pager {
    /// A walk of `index` over `range`'s bounds (prefix included) in its direction; the
    /// limit and `keys_only` are the caller's.
    pub fn new(index: Vec<u8>, range: &ScanRange) -> Pager {
        let (min, max) = lex_bounds(range.lower().as_deref(), range.upper().as_deref());
        Pager {
            index,
            min,
            max,
            reverse: range.reverse,
            done: false,
        }
    }

    /// True once a page came back short: nothing is left.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The command fetching the next `count` members.
    fn cmd(&self, count: usize) -> Cmd {
        let (command, from, to) = if self.reverse {
            ("ZREVRANGEBYLEX", &self.max, &self.min)
        } else {
            ("ZRANGEBYLEX", &self.min, &self.max)
        };
        let mut cmd = redis::cmd(command);
        cmd.arg(&self.index)
            .arg(from)
            .arg(to)
            .arg("LIMIT")
            .arg(0)
            .arg(count);
        cmd
    }

    /// Moves the cursor past `members`, the answer to [`cmd`](Self::cmd)`(count)`.
    fn advance(&mut self, members: &[Bytes], count: usize) {
        if members.len() < count {
            self.done = true;
        }
        if let Some(last) = members.last() {
            let cursor = bound(b'(', last);
            if self.reverse {
                self.max = cursor;
            } else {
                self.min = cursor;
            }
        }
    }

    /// The next (up to) `count` members; empty at the end.
    pub async fn next(
        &mut self,
        calls: &Calls,
        operation: &'static str,
        count: usize,
    ) -> Result<Vec<Bytes>> {
        if self.done {
            return Ok(Vec::new());
        }
        let members: Vec<Bytes> = calls.query(operation, &self.cmd(count)).await?;
        self.advance(&members, count);
        Ok(members)
    }

    /// The value of `marker` and the first (up to) `count` members, in one round trip
    /// (marker and index share a slot, so this holds on a cluster too).
    pub async fn first_with_marker(
        &mut self,
        calls: &Calls,
        operation: &'static str,
        marker: &[u8],
        count: usize,
    ) -> Result<(Option<Bytes>, Vec<Bytes>)> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(marker).add_command(self.cmd(count));
        let (token, members): (Option<Bytes>, Vec<Bytes>) =
            calls.query_pipe(operation, &pipe).await?;
        self.advance(&members, count);
        Ok((token, members))
    }
}
