//! Ordered scans: pages of the partition's lex index (see `pager`), values fetched per
//! page by one read-only script that also reads the partition marker.
//!
//! Memory is bounded by one page (`RedisConfig::scan_page` entries): the stream holds
//! the page being handed out and the cursor (the last key seen), nothing more.
//! Index entries whose value key is gone (expired) are skipped and reclaimed.
//!
//! [`Walk::entries`] is the same walk for `scan_entries`: its page script also reads each
//! key's absolute deadline (`PEXPIRETIME`, Redis 7.0) in the same atomic step as the
//! value.
//!
//! Round trips: the call itself reads the marker and the first page of the index in one
//! pipeline (a missing partition is the call's error); each page then costs one script
//! call for its values, and each later page one more for its index members.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use backend_api::{Bytes, Entry, EntryStream, Error, KvStream, Partition, Result, ScanRange};
use futures_util::StreamExt;
use redis::{FromRedisValue, Script, Value};

use crate::calls::Calls;
use crate::error::{NAME, not_found};
use crate::layout::PartitionKeys;
use crate::pager::Pager;
use crate::registry;
use crate::scripts::evalsha;

/// One `scan_entries` page, read atomically with the partition marker. `KEYS`: marker,
/// then the page's value keys. `ARGV`: `1` keys-only (each value answered as `EXISTS`),
/// else `0`. Returns `{marker value, then per key: value or 0/1, PEXPIRETIME}` (nil for
/// a missing value; `PEXPIRETIME` is -1 without a TTL, -2 for a missing key). Read-only,
/// like `PAGE` (kept beside its one caller; loaded on first use by the NOSCRIPT retry).
static ENTRIES_PAGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"#!lua flags=no-writes
local out = {redis.call('GET', KEYS[1])}
for i = 2, #KEYS do
  if ARGV[1] == '1' then
    out[#out + 1] = redis.call('EXISTS', KEYS[i])
  else
    out[#out + 1] = redis.call('GET', KEYS[i])
  end
  out[#out + 1] = redis.call('PEXPIRETIME', KEYS[i])
end
return out
"#,
    )
});

/// Where a scan stands between pages.
struct Cursor {
    calls: Arc<Calls>,
    partition: Partition,
    keys: PartitionKeys,
    /// The partition marker's value when the scan began: a page read under another
    /// value (dropped, perhaps created again) ends the scan.
    token: Bytes,
    pager: Pager,
    /// Members read with the marker by the call, not yet handed out.
    first: Option<Vec<Bytes>>,
    page: usize,
    keys_only: bool,
    /// Read each key's deadline too (`scan_entries`).
    expiry: bool,
    remaining: Option<usize>,
    done: bool,
}

/// One partition's scan, before the first round trip: what `scan` and `scan_entries`
/// share once the call's arguments are checked.
pub(crate) struct Walk {
    pub calls: Arc<Calls>,
    pub partition: Partition,
    pub keys: PartitionKeys,
    /// Index entries per round trip.
    pub page: usize,
}

impl Walk {
    /// Streams the pairs of `range`. `PartitionNotFound` from the call when the
    /// partition has no marker.
    pub async fn pairs(self, range: &ScanRange) -> Result<KvStream> {
        let entries = walk(self, range, false).await?;
        Ok(entries.map(|entry| entry.map(Entry::into_pair)).boxed())
    }

    /// [`pairs`](Self::pairs) with each key's absolute deadline (`None`: no TTL).
    pub async fn entries(self, range: &ScanRange) -> Result<EntryStream> {
        walk(self, range, true).await
    }
}

/// The stream behind [`Walk::pairs`] and [`Walk::entries`]; `expiry`: read deadlines.
async fn walk(walk: Walk, range: &ScanRange, expiry: bool) -> Result<EntryStream> {
    let Walk {
        calls,
        partition,
        keys,
        page,
    } = walk;
    if range.is_empty() {
        registry::require(&calls, &partition, &keys).await?;
        return Ok(futures_util::stream::empty().boxed());
    }
    let mut pager = Pager::new(keys.index.clone(), range);
    let want = range.limit.map_or(page, |limit| limit.min(page));
    let (token, first) = pager
        .first_with_marker(&calls, "scan", &keys.marker, want)
        .await?;
    let token = token.ok_or_else(|| not_found(&partition))?;
    let cursor = Cursor {
        calls,
        partition,
        keys,
        token,
        pager,
        first: Some(first),
        page,
        keys_only: range.keys_only,
        expiry,
        remaining: range.limit,
        done: false,
    };
    Ok(
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
        .boxed(),
    )
}

/// `partition_size`: the bytes of every live key and value, walking the index a page at
/// a time (`EXISTS` and `STRLEN` of each page's value keys in one pipeline). The first
/// page rides with the marker read, like a scan's.
pub(crate) async fn size(
    calls: &Calls,
    partition: &Partition,
    keys: &PartitionKeys,
    page: usize,
) -> Result<u64> {
    let mut pager = Pager::new(keys.index.clone(), &ScanRange::all());
    let (token, mut members) = pager
        .first_with_marker(calls, "partition_size", &keys.marker, page)
        .await?;
    if token.is_none() {
        return Err(not_found(partition));
    }
    let mut total = 0u64;
    while !members.is_empty() {
        let mut pipe = redis::pipe();
        for member in &members {
            pipe.exists(keys.value(member)).strlen(keys.value(member));
        }
        let sizes: Vec<(bool, u64)> = calls.query_pipe("partition_size", &pipe).await?;
        for (member, (live, len)) in members.iter().zip(sizes) {
            if live {
                total += member.len() as u64 + len;
            }
        }
        members = pager.next(calls, "partition_size", page).await?;
    }
    Ok(total)
}

impl Cursor {
    /// The next non-empty page of live entries, or an empty one at the end.
    async fn next_page(&mut self) -> Result<Vec<Entry>> {
        while !self.done {
            self.calls.check_open()?;
            let members = match self.first.take() {
                Some(first) => first,
                None => {
                    let want = self.remaining.map_or(self.page, |r| r.min(self.page));
                    self.pager.next(&self.calls, "scan", want).await?
                }
            };
            if self.pager.is_done() {
                self.done = true;
            }
            if members.is_empty() {
                break;
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

    /// The live entries among `members`, in order; reclaims the index entries of the
    /// dead. The values (or, keys-only, their existence), and with `expiry` their
    /// deadlines, are read by one read-only script (`PAGE`, or [`ENTRIES_PAGE`])
    /// together with the partition marker: if the marker no longer holds the scan's
    /// token, the partition was dropped since the scan began and the answer is
    /// `PartitionNotFound` (never a pair written after the drop).
    async fn fetch_values(&self, members: Vec<Bytes>) -> Result<Vec<Entry>> {
        let names: Vec<Vec<u8>> = members.iter().map(|m| self.keys.value(m)).collect();
        let script = if self.expiry {
            &*ENTRIES_PAGE
        } else {
            &self.calls.scripts.page
        };
        let mut cmd = evalsha(script, 1 + names.len());
        cmd.arg(&self.keys.marker)
            .arg(&names)
            .arg(if self.keys_only { "1" } else { "0" });
        let mut replies: Vec<Value> = self.calls.eval("scan", script, &cmd).await?;
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
        let per_key = if self.expiry { 2 } else { 1 };
        if rest.len() != members.len() * per_key {
            return Err(bad(format!(
                "{} replies for {} keys",
                rest.len(),
                members.len()
            )));
        }
        let mut rest = rest.into_iter();
        let mut live = Vec::with_capacity(members.len());
        let mut dead_members = Vec::new();
        let mut dead_names = Vec::new();
        for (member, name) in members.into_iter().zip(names) {
            let value = rest.next().unwrap_or(Value::Nil);
            let value = if self.keys_only {
                bool::from_redis_value(value).map(|live| live.then(Bytes::new))
            } else {
                Option::<Bytes>::from_redis_value(value)
            }
            .map_err(|e| bad(e.to_string()))?;
            let expires_at = if self.expiry {
                let ms = i64::from_redis_value(rest.next().unwrap_or(Value::Nil))
                    .map_err(|e| bad(e.to_string()))?;
                deadline(ms)
            } else {
                None
            };
            match value {
                Some(value) => live.push(Entry::new(member, value, expires_at)),
                None => {
                    dead_members.push(member);
                    dead_names.push(name);
                }
            }
        }
        if !dead_members.is_empty() {
            // Best effort: a failure here leaves stale entries for a later scan.
            let script = &self.calls.scripts.reclaim;
            let mut cmd = evalsha(script, 1 + dead_names.len());
            cmd.arg(&self.keys.index).arg(&dead_names);
            for member in &dead_members {
                cmd.arg(&member[..]);
            }
            let _ = self.calls.eval::<i64>("scan", script, &cmd).await;
        }
        Ok(live)
    }
}

/// The deadline `PEXPIRETIME` answered (ms since the Unix epoch; negative: none).
fn deadline(ms: i64) -> Option<SystemTime> {
    u64::try_from(ms)
        .ok()
        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}
