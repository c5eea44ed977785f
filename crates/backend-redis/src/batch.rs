//! Turns a validated conditional batch (checks and operations; a plain batch has no
//! checks, a CAS one of each) into one call of the `WRITE` script (see `scripts` for the
//! argument layout): partitions numbered in order of first appearance, checks then
//! operations, every operation sent in its order.

use std::collections::HashMap;
use std::time::Duration;

use backend_api::{BatchOutcome, Bytes, Check, Error, Operation, Partition, Result};
use redis::{Cmd, Value};

use crate::calls::Calls;
use crate::error::{NAME, not_found};
use crate::layout::{Layout, PartitionKeys};
use crate::pager::lex_range;
use crate::scripts::{self, Scripts};

/// Longest TTL sent to the server, in ms (about 142,000 years): longer ones are clamped.
const MAX_TTL_MS: u128 = 1 << 52;

/// The TTL argument of the write scripts: `0` for none, else whole milliseconds
/// (rounded up, so a short TTL never becomes "no TTL").
pub(crate) fn ttl_arg(ttl: Option<Duration>) -> u64 {
    match ttl {
        None => 0,
        Some(ttl) => ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS) as u64,
    }
}

/// One script call.
pub(crate) struct Plan<'a> {
    /// `EVALSHA` of the write script with every key and argument.
    pub cmd: Cmd,
    /// The partitions in the order the script numbers them (from 1).
    pub partitions: Vec<&'a Partition>,
}

/// How the script publishes events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Publish {
    /// `PUBLISH` (standalone) or `SPUBLISH` (cluster, sharded pub/sub).
    pub command: &'static str,
    /// `PUBSUB` subcommand counting subscribers (`NUMSUB`); empty: always publish (a
    /// cluster: a watch may sit on any node of the shard).
    pub count: &'static str,
}

/// Partitions up to this many are found by a linear search, more through a map.
const LINEAR_GROUPS: usize = 8;

/// Numbers partitions in order of first appearance.
#[derive(Default)]
struct Numbering<'a> {
    partitions: Vec<&'a Partition>,
    by_name: HashMap<&'a str, usize>,
    previous: usize,
}

impl<'a> Numbering<'a> {
    /// The 0-based number of `partition`, adding it when new.
    fn number(&mut self, partition: &'a Partition) -> usize {
        let partitions = &mut self.partitions;
        let g = if partitions.get(self.previous) == Some(&partition) {
            self.previous
        } else if partitions.len() <= LINEAR_GROUPS {
            match partitions.iter().position(|p| *p == partition) {
                Some(g) => g,
                None => {
                    partitions.push(partition);
                    if partitions.len() > LINEAR_GROUPS {
                        self.by_name
                            .extend(partitions.iter().enumerate().map(|(g, p)| (p.name(), g)));
                    }
                    partitions.len() - 1
                }
            }
        } else {
            *self.by_name.entry(partition.name()).or_insert_with(|| {
                partitions.push(partition);
                partitions.len() - 1
            })
        };
        self.previous = g;
        g
    }
}

/// The script call checking `checks` and applying `operations` (both validated; at
/// least one of either).
///
/// `ranges` holds, per range delete in order, the index entries read in its range
/// ([`read_ranges`]): the script names their value keys in `KEYS` and refuses to run
/// (answer `{3}`) if the range holds others by then.
pub(crate) fn plan<'a>(
    layout: &Layout,
    scripts: &Scripts,
    publish: Publish,
    checks: &'a [Check],
    operations: &'a [Operation],
    ranges: &[Vec<Bytes>],
) -> Plan<'a> {
    let mut numbering = Numbering::default();
    let check_groups: Vec<usize> = checks
        .iter()
        .map(|c| numbering.number(&c.partition))
        .collect();
    let op_groups: Vec<usize> = operations
        .iter()
        .map(|op| numbering.number(op.partition()))
        .collect();
    let partitions = numbering.partitions;
    let keys: Vec<PartitionKeys> = partitions.iter().map(|p| layout.partition(p)).collect();
    let value_keys = operations.iter().filter(|op| op.key().is_some()).count();
    // Per range delete: its entries, in order (an unknown operation counts as an empty
    // range delete, below).
    let mut range_of = ranges.iter();
    let range_entries: Vec<&[Bytes]> = op_groups
        .iter()
        .zip(operations)
        .filter(|(_, op)| op.key().is_none())
        .map(|_| range_of.next().map_or(&[][..], Vec::as_slice))
        .collect();
    let declared: usize = range_entries.iter().map(|r| r.len()).sum();

    let args = 9
        + partitions.len() * 3
        + checks.len() * 4
        + value_keys
        + operations.len() * 4
        + range_entries.len()
        + declared * 2;
    let range_data: usize = range_entries
        .iter()
        .flat_map(|r| r.iter())
        .map(|m| 2 * m.len() + 64)
        .sum();
    let data = range_data
        + keys
            .iter()
            .map(|k| k.marker.len() + k.index.len() + k.channel.len() + k.value_prefix.len())
            .sum::<usize>()
        + checks
            .iter()
            .zip(&check_groups)
            .map(|(c, &g)| {
                keys[g].value_prefix.len()
                    + c.key.len()
                    + c.expected.as_ref().map_or(0, |v| v.len())
                    + 8
            })
            .sum::<usize>()
        + operations
            .iter()
            .zip(&op_groups)
            .map(|(op, &g)| match op {
                Operation::Put { key, value, .. } => {
                    keys[g].value_prefix.len() + 2 * key.len() + value.len() + 32
                }
                Operation::Delete { key, .. } => keys[g].value_prefix.len() + 2 * key.len() + 8,
                _ => 64,
            })
            .sum::<usize>();
    let mut cmd = scripts::evalsha_with_capacity(
        &scripts.write,
        partitions.len() * 2 + checks.len() + value_keys + declared,
        args,
        data,
    );
    for k in &keys {
        cmd.arg(&k.marker).arg(&k.index);
    }
    for (check, &g) in checks.iter().zip(&check_groups) {
        cmd.arg(keys[g].value(&check.key));
    }
    for (op, &g) in operations.iter().zip(&op_groups) {
        if let Some(key) = op.key() {
            cmd.arg(keys[g].value(key));
        }
    }
    let range_groups = op_groups
        .iter()
        .zip(operations)
        .filter(|(_, op)| op.key().is_none())
        .map(|(&g, _)| g);
    for (entries, g) in range_entries.iter().zip(range_groups) {
        for entry in entries.iter() {
            cmd.arg(keys[g].value(entry));
        }
    }
    cmd.arg(partitions.len())
        .arg(checks.len())
        .arg(operations.len())
        .arg(publish.command)
        .arg(publish.count);
    for k in &keys {
        cmd.arg(&k.channel);
    }
    for (check, &g) in checks.iter().zip(&check_groups) {
        cmd.arg(g + 1);
        match &check.expected {
            Some(value) => cmd.arg("1").arg(&value[..]),
            None => cmd.arg("0").arg(""),
        };
    }
    for (op, &g) in operations.iter().zip(&op_groups) {
        cmd.arg(g + 1);
        match op {
            Operation::Put {
                key,
                value,
                options,
                ..
            } if options.ttl != Some(Duration::ZERO) => {
                match options.ttl {
                    None => cmd.arg("P"),
                    ttl => cmd.arg(ttl_arg(ttl)),
                };
                cmd.arg(&key[..]).arg(&value[..]);
            }
            // A put whose deadline is already past acts as a delete.
            Operation::Put { key, .. } | Operation::Delete { key, .. } => {
                cmd.arg("D").arg(&key[..]).arg("");
            }
            Operation::DeleteRange { range, .. } => {
                let (min, max) = lex_range(range);
                cmd.arg("R").arg(min).arg(max);
            }
            // `Operation` is non-exhaustive; `check_operation` refuses what this
            // backend does not know before a plan is made.
            _ => {
                cmd.arg("R").arg("+").arg("-");
            }
        }
    }
    for entries in &range_entries {
        cmd.arg(entries.len());
        for entry in entries.iter() {
            cmd.arg(&entry[..]);
        }
    }
    Plan { cmd, partitions }
}

/// Index entries read per range read: the same page as `DROP`'s.
const RANGE_PAGE: usize = 1000;

/// For each range delete of `operations`, in order, every index entry its range holds
/// now (read a thousand at a time): the keys the write script will be allowed to
/// delete. Memory grows with the ranges' sizes (the script call names every value key).
pub(crate) async fn read_ranges(
    calls: &Calls,
    layout: &Layout,
    operations: &[Operation],
) -> Result<Vec<Vec<Bytes>>> {
    let mut out = Vec::new();
    for op in operations {
        let Operation::DeleteRange {
            partition, range, ..
        } = op
        else {
            continue;
        };
        let index = layout.partition(partition).index;
        let (mut min, max) = lex_range(range);
        let mut entries: Vec<Bytes> = Vec::new();
        loop {
            let mut cmd = redis::cmd("ZRANGEBYLEX");
            cmd.arg(&index)
                .arg(&min)
                .arg(&max)
                .arg("LIMIT")
                .arg(0)
                .arg(RANGE_PAGE);
            let page: Vec<Bytes> = calls.query("range_delete", &cmd).await?;
            let full = page.len() == RANGE_PAGE;
            if let Some(last) = page.last() {
                min = [&b"("[..], last].concat();
            }
            entries.extend(page);
            if !full {
                break;
            }
        }
        out.push(entries);
    }
    Ok(out)
}

impl Plan<'_> {
    /// The outcome the write script's `reply` reports (see `scripts` for its shape), for
    /// a call with `checks` checks; `None` when a range held entries the plan did not
    /// declare (nothing was written: read the ranges again and retry).
    pub fn outcome(
        &self,
        operation: &str,
        checks: usize,
        reply: Vec<Value>,
    ) -> Result<Option<BatchOutcome>> {
        let unexpected =
            || Error::backend(NAME, format!("the {operation} script answered {reply:?}"));
        let number = |v: Option<&Value>| match v {
            Some(Value::Int(n)) => usize::try_from(*n).ok().and_then(|n| n.checked_sub(1)),
            _ => None,
        };
        match reply.first() {
            Some(Value::Int(0)) => Ok(Some(BatchOutcome::Applied)),
            Some(Value::Int(3)) => Ok(None),
            Some(Value::Int(1)) => {
                match number(reply.get(1)).and_then(|j| self.partitions.get(j)) {
                    Some(partition) => Err(not_found(partition)),
                    None => Err(unexpected()),
                }
            }
            Some(Value::Int(2)) => {
                let index = number(reply.get(1))
                    .filter(|&i| i < checks)
                    .ok_or_else(unexpected)?;
                let current = match reply.get(2) {
                    Some(Value::BulkString(bytes)) => Some(Bytes::copy_from_slice(bytes)),
                    None | Some(Value::Nil) => None,
                    Some(_) => return Err(unexpected()),
                };
                Ok(Some(BatchOutcome::CheckFailed { index, current }))
            }
            _ => Err(unexpected()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_and_clamps() {
        assert_eq!(ttl_arg(None), 0);
        assert_eq!(ttl_arg(Some(Duration::from_nanos(1))), 1);
        assert_eq!(ttl_arg(Some(Duration::from_micros(1500))), 2);
        assert_eq!(ttl_arg(Some(Duration::from_secs(3))), 3000);
        assert_eq!(ttl_arg(Some(Duration::MAX)), MAX_TTL_MS as u64);
    }
}
