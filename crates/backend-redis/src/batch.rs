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

/// Partitions up to this many are found by a linear search, more through a map.
const LINEAR_GROUPS: usize = 8;

/// The script call applying `operations` (already validated, at least one).
///
/// Costs a few small vectors and two sorts of at most `operations.len()` entries; no
/// hashing unless the batch spans more than [`LINEAR_GROUPS`] partitions.
pub(crate) fn plan<'a>(
    layout: &Layout,
    scripts: &Scripts,
    operations: &'a [Operation],
) -> Plan<'a> {
    // The group (partition number) of each operation, in order of first appearance.
    let mut partitions: Vec<&'a Partition> = Vec::new();
    let mut by_name: HashMap<&'a str, usize> = HashMap::new();
    let mut groups = Vec::with_capacity(operations.len());
    let mut previous = usize::MAX;
    for op in operations {
        let partition = op.partition();
        let g = if partitions.get(previous) == Some(&partition) {
            previous
        } else if partitions.len() <= LINEAR_GROUPS {
            match partitions.iter().position(|p| *p == partition) {
                Some(g) => g,
                None => {
                    partitions.push(partition);
                    if partitions.len() > LINEAR_GROUPS {
                        by_name.extend(partitions.iter().enumerate().map(|(g, p)| (p.name(), g)));
                    }
                    partitions.len() - 1
                }
            }
        } else {
            *by_name.entry(partition.name()).or_insert_with(|| {
                partitions.push(partition);
                partitions.len() - 1
            })
        };
        groups.push(g);
        previous = g;
    }
    // Operations in group order, each group in operation order.
    let mut order: Vec<(usize, usize)> = groups.iter().copied().zip(0..).collect();
    if partitions.len() > 1 {
        order.sort_unstable();
    }
    // The last operation on each (group, key) decides its final state.
    let mut by_key: Vec<(usize, &[u8], usize)> = order
        .iter()
        .map(|&(g, i)| (g, &operations[i].key()[..], i))
        .collect();
    by_key.sort_unstable();
    let mut last = vec![false; operations.len()];
    for (n, &(g, key, i)) in by_key.iter().enumerate() {
        last[i] = by_key
            .get(n + 1)
            .is_none_or(|&(g2, key2, _)| g2 != g || key2 != key);
    }
    let finals = last.iter().filter(|&&l| l).count();
    let keys: Vec<PartitionKeys> = partitions.iter().map(|p| layout.partition(p)).collect();
    let mut counts = vec![0usize; partitions.len()];
    for &g in &groups {
        counts[g] += 1;
    }

    let args = 3 + partitions.len() * 4 + finals + 1 + operations.len() * 3;
    let data = keys
        .iter()
        .map(|k| k.marker.len() + k.index.len() + k.channel.len() + 4)
        .sum::<usize>()
        + operations
            .iter()
            .zip(&groups)
            .map(|(op, &g)| {
                let value = match op {
                    Operation::Put { value, .. } => value.len(),
                    Operation::Delete { .. } => 0,
                };
                keys[g].value_prefix.len() + 2 * op.key().len() + value + 24
            })
            .sum::<usize>();
    let mut cmd =
        scripts::evalsha_with_capacity(&scripts.batch, partitions.len() * 2 + finals, args, data);
    for k in &keys {
        cmd.arg(&k.marker).arg(&k.index);
    }
    let mut name = Vec::new();
    for &(g, i) in &order {
        if last[i] {
            name.clear();
            name.extend_from_slice(&keys[g].value_prefix);
            name.extend_from_slice(operations[i].key());
            cmd.arg(&name[..]);
        }
    }
    cmd.arg(partitions.len());
    for (k, count) in keys.iter().zip(&counts) {
        cmd.arg(&k.channel).arg(*count);
    }
    for &(_, i) in &order {
        let op = &operations[i];
        match op {
            Operation::Put { value, options, .. } if options.ttl != Some(Duration::ZERO) => {
                match (last[i], options.ttl) {
                    (false, _) => cmd.arg("p"),
                    (true, None) => cmd.arg("P"),
                    (true, ttl) => cmd.arg(ttl_arg(ttl)),
                };
                cmd.arg(&op.key()[..]).arg(&value[..]);
            }
            // A delete, or a put whose deadline is already past (it acts as one).
            _ => {
                cmd.arg(if last[i] { "D" } else { "d" })
                    .arg(&op.key()[..])
                    .arg("");
            }
        }
    }
    Plan { cmd, partitions }
}
