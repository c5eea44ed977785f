//! Ordered scans: pages of the partition's lex index (`ZRANGEBYLEX` /
//! `ZREVRANGEBYLEX`), values fetched per page with one `MGET`.
//!
//! Memory is bounded by one page (`RedisConfig::scan_page` entries): the stream holds
//! the page being handed out and the cursor (the last key seen), nothing more.
//! Index entries whose value key is gone (expired) are skipped and reclaimed.

use std::sync::Arc;

use backend_api::{Bytes, Error, KvStream, Partition, Result, ScanRange};
use futures_util::StreamExt;
use redis::{FromRedisValue, Value};

use crate::backend::{Inner, not_found};
use crate::error::NAME;
use crate::layout::PartitionKeys;
use crate::scripts::evalsha;

/// A lex range bound: `[` inclusive, `(` exclusive, followed by raw key bytes (any
/// bytes, 0x00 and 0xFF included); `-` and `+` alone are the open ends.
fn bound(marker: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(marker);
    out.extend_from_slice(key);
    out
}

/// Where a scan stands between pages.
struct Cursor {
    inner: Arc<Inner>,
    partition: Partition,
    keys: PartitionKeys,
    /// The partition marker's value when the scan began: a page read under another
    /// value (dropped, perhaps created again) ends the scan.
    token: Bytes,
    /// The lex range still to visit: `min` and `max` in ZRANGEBYLEX syntax.
    min: Vec<u8>,
    max: Vec<u8>,
    reverse: bool,
    keys_only: bool,
    remaining: Option<usize>,
    done: bool,
}

/// Streams `range` of the partition with `keys`. The caller has checked that the
/// partition exists.
pub(crate) fn scan(
    inner: Arc<Inner>,
    partition: Partition,
    keys: PartitionKeys,
    token: Bytes,
    range: &ScanRange,
) -> KvStream {
    if range.is_empty() {
        return futures_util::stream::empty().boxed();
    }
    let min = range
        .lower()
        .map_or_else(|| b"-".to_vec(), |l| bound(b'[', &l));
    let max = range
        .upper()
        .map_or_else(|| b"+".to_vec(), |u| bound(b'(', &u));
    let cursor = Cursor {
        inner,
        partition,
        keys,
        token,
        min,
        max,
        reverse: range.reverse,
        keys_only: range.keys_only,
        remaining: range.limit,
        done: false,
    };
    futures_util::stream::unfold(cursor, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let page = match cursor.next_page().await {
            Ok(page) => page.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(err) => {
                cursor.done = true;
                vec![Err(err)]
            }
        };
        if page.is_empty() {
            return None;
        }
        Some((futures_util::stream::iter(page), cursor))
    })
    .flatten()
    .boxed()
}

impl Cursor {
    /// The next non-empty page of live pairs, or an empty one at the end.
    async fn next_page(&mut self) -> Result<Vec<(Bytes, Bytes)>> {
        while !self.done {
            self.inner.check_open()?;
            let want = self.remaining.map_or(self.inner.config.scan_page, |r| {
                r.min(self.inner.config.scan_page)
            });
            let members = self.fetch_members(want).await?;
            if members.len() < want {
                self.done = true;
            }
            let Some(last) = members.last() else {
                break;
            };
            let cursor = bound(b'(', last);
            if self.reverse {
                self.max = cursor;
            } else {
                self.min = cursor;
            }
            let live = self.fetch_values(members).await?;
            if live.is_empty() {
                continue;
            }
            if let Some(remaining) = &mut self.remaining {
                *remaining -= live.len();
                if *remaining == 0 {
                    self.done = true;
                }
            }
            return Ok(live);
        }
        Ok(Vec::new())
    }

    async fn fetch_members(&self, count: usize) -> Result<Vec<Bytes>> {
        let (command, from, to) = if self.reverse {
            ("ZREVRANGEBYLEX", &self.max, &self.min)
        } else {
            ("ZRANGEBYLEX", &self.min, &self.max)
        };
        let mut cmd = redis::cmd(command);
        cmd.arg(&self.keys.index)
            .arg(from)
            .arg(to)
            .arg("LIMIT")
            .arg(0)
            .arg(count);
        let mut conn = self.inner.conn.clone();
        self.inner
            .run("scan", cmd.query_async::<Vec<Bytes>>(&mut conn))
            .await
    }

    /// The live pairs among `members`, in order; reclaims the index entries of the dead.
    /// The values (or, keys-only, their existence) are read by one read-only script
    /// (`PAGE`) together with the partition marker: if the marker no longer holds the scan's token, the
    /// partition was dropped since the scan began and the answer is `PartitionNotFound`
    /// (never a pair written after the drop).
    async fn fetch_values(&self, members: Vec<Bytes>) -> Result<Vec<(Bytes, Bytes)>> {
        let names: Vec<Vec<u8>> = members.iter().map(|m| self.keys.value(m)).collect();
        let script = &self.inner.scripts.page;
        let mut cmd = evalsha(script, 1 + names.len());
        cmd.arg(&self.keys.marker)
            .arg(&names)
            .arg(if self.keys_only { "1" } else { "0" });
        let mut replies: Vec<Value> = self.inner.eval("scan", script, &cmd).await?;
        let bad = |what: String| Error::backend(NAME, format!("scan page: {what}"));
        if replies.is_empty() {
            return Err(bad("empty reply".into()));
        }
        let rest = replies.split_off(1);
        let token =
            Option::<Bytes>::from_redis_value(replies.remove(0)).map_err(|e| bad(e.to_string()))?;
        if token.as_ref() != Some(&self.token) {
            return Err(not_found(&self.partition));
        }
        let values: Vec<Option<Bytes>> = if self.keys_only {
            rest.into_iter()
                .map(|v| bool::from_redis_value(v).map(|live| live.then(Bytes::new)))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?
        } else {
            rest.into_iter()
                .map(Option::<Bytes>::from_redis_value)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?
        };
        if values.len() != members.len() {
            return Err(bad(format!(
                "{} values for {} keys",
                values.len(),
                members.len()
            )));
        }
        let mut live = Vec::with_capacity(members.len());
        let mut dead_members = Vec::new();
        let mut dead_names = Vec::new();
        for ((member, name), value) in members.into_iter().zip(names).zip(values) {
            match value {
                Some(value) => live.push((member, value)),
                None => {
                    dead_members.push(member);
                    dead_names.push(name);
                }
            }
        }
        if !dead_members.is_empty() {
            // Best effort: a failure here leaves stale entries for a later scan.
            let script = &self.inner.scripts.reclaim;
            let mut cmd = evalsha(script, 1 + dead_names.len());
            cmd.arg(&self.keys.index).arg(&dead_names);
            for member in &dead_members {
                cmd.arg(&member[..]);
            }
            let _ = self.inner.eval::<i64>("scan", script, &cmd).await;
        }
        Ok(live)
    }
}
