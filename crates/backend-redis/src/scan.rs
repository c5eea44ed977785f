//! Ordered scans: pages of the partition's lex index (see `pager`), values fetched per
//! page by one read-only script that also reads the partition marker.
//!
//! Memory is bounded by one page (`RedisConfig::scan_page` entries): the stream holds
//! the page being handed out and the cursor (the last key seen), nothing more.
//! Index entries whose value key is gone (expired) are skipped and reclaimed.
//!
//! Round trips: the call itself reads the marker and the first page of the index in one
//! pipeline (a missing partition is the call's error); each page then costs one script
//! call for its values, and each later page one more for its index members.

use std::sync::Arc;

use backend_api::{Bytes, Error, KvStream, Partition, Result, ScanRange};
use futures_util::StreamExt;
use redis::{FromRedisValue, Value};

use crate::calls::Calls;
use crate::error::{NAME, not_found};
use crate::layout::PartitionKeys;
use crate::pager::Pager;
use crate::registry;
use crate::scripts::evalsha;

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
    remaining: Option<usize>,
    done: bool,
}

/// Streams `range` of `partition` (with `keys`), `page` index entries per round trip.
/// `PartitionNotFound` from the call when the partition has no marker.
pub(crate) async fn scan(
    calls: Arc<Calls>,
    partition: Partition,
    keys: PartitionKeys,
    range: &ScanRange,
    page: usize,
) -> Result<KvStream> {
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
    /// The next non-empty page of live pairs, or an empty one at the end.
    async fn next_page(&mut self) -> Result<Vec<(Bytes, Bytes)>> {
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

    /// The live pairs among `members`, in order; reclaims the index entries of the dead.
    /// The values (or, keys-only, their existence) are read by one read-only script
    /// (`PAGE`) together with the partition marker: if the marker no longer holds the
    /// scan's token, the partition was dropped since the scan began and the answer is
    /// `PartitionNotFound` (never a pair written after the drop).
    async fn fetch_values(&self, members: Vec<Bytes>) -> Result<Vec<(Bytes, Bytes)>> {
        let names: Vec<Vec<u8>> = members.iter().map(|m| self.keys.value(m)).collect();
        let script = &self.calls.scripts.page;
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
