//! Turns a validated batch into one call of the `BATCH` script (see `scripts` for the
//! argument layout): operations grouped by partition in order of first appearance,
//! their order kept within each partition, and each operation flagged final when no
//! later operation of the batch touches the same key.

use std::collections::HashMap;
use std::time::Duration;

use backend_api::{Operation, Partition};
use redis::Cmd;

use crate::backend::ttl_arg;
use crate::layout::{Layout, PartitionKeys};
use crate::scripts::{self, Scripts};

/// One batch call.
pub(crate) struct Plan<'a> {
    /// `EVALSHA` of the batch script with every key and argument.
    pub cmd: Cmd,
    /// The partitions in the order the script numbers them (from 1).
    pub partitions: Vec<&'a Partition>,
}

/// The script call applying `operations` (already validated, at least one).
pub(crate) fn plan<'a>(
    layout: &Layout,
    scripts: &Scripts,
    operations: &'a [Operation],
) -> Plan<'a> {
    let mut slot: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(&Partition, PartitionKeys, Vec<usize>)> = Vec::new();
    let mut last: HashMap<(usize, &[u8]), usize> = HashMap::with_capacity(operations.len());
    for (i, op) in operations.iter().enumerate() {
        let partition = op.partition();
        let g = *slot.entry(partition.name()).or_insert_with(|| {
            groups.push((partition, layout.partition(partition), Vec::new()));
            groups.len() - 1
        });
        groups[g].2.push(i);
        last.insert((g, &op.key()[..]), i);
    }
    let is_final = |g: usize, i: usize| last.get(&(g, &operations[i].key()[..])) == Some(&i);
    let finals = last.len();

    let mut cmd = scripts::evalsha(&scripts.batch, groups.len() * 2 + finals);
    for (_, keys, _) in &groups {
        cmd.arg(&keys.marker).arg(&keys.index);
    }
    let mut name = Vec::new();
    for (g, (_, keys, ops)) in groups.iter().enumerate() {
        for &i in ops {
            if is_final(g, i) {
                name.clear();
                name.extend_from_slice(&keys.value_prefix);
                name.extend_from_slice(operations[i].key());
                cmd.arg(&name[..]);
            }
        }
    }
    cmd.arg(groups.len());
    for (_, keys, ops) in &groups {
        cmd.arg(&keys.channel).arg(ops.len());
    }
    for (g, (_, _, ops)) in groups.iter().enumerate() {
        for &i in ops {
            let op = &operations[i];
            let last = is_final(g, i);
            match op {
                Operation::Put { value, options, .. } if options.ttl != Some(Duration::ZERO) => {
                    cmd.arg(if last { "P" } else { "p" })
                        .arg(&op.key()[..])
                        .arg(&value[..])
                        .arg(ttl_arg(options.ttl));
                }
                // A delete, or a put whose deadline is already past (it acts as one).
                _ => {
                    cmd.arg(if last { "D" } else { "d" })
                        .arg(&op.key()[..])
                        .arg("")
                        .arg(0);
                }
            }
        }
    }
    Plan {
        cmd,
        partitions: groups.into_iter().map(|(p, _, _)| p).collect(),
    }
}
