//! Partitions: the marker key (its value a token unique to each creation) and the
//! registry set of names.
//!
//! On a standalone server, or a cluster with `colocate_partitions`, create and drop are
//! one script each. On a cluster whose partitions have their own slots (`split`), the
//! registry is in another slot: create adds the name first and then sets the marker,
//! drop removes the marker (with the data) first and then the name, so a step cut
//! short leaves a listed name without a marker, which [`list`] filters out.

use std::sync::atomic::{AtomicU64, Ordering};

use backend_api::{Bytes, Error, Partition, Result};
use redis::Value;

use crate::calls::Calls;
use crate::error::not_found;
use crate::layout::{Layout, PartitionKeys};
use crate::scripts::evalsha;

/// The namespace's partitions as the server holds them.
pub(crate) struct Registry<'a> {
    pub calls: &'a Calls,
    pub layout: &'a Layout,
    /// Registry and markers in different cluster slots (two steps, see the module docs).
    pub split: bool,
    /// The publish command of the drop's `X` record (`PUBLISH` or `SPUBLISH`).
    pub publish: &'static str,
}

/// Index entries (and value keys) removed per step of a drop.
const DROP_PAGE: usize = 1000;

impl Registry<'_> {
    /// Creates `partition`; an existing one keeps its data and token.
    pub async fn create(&self, partition: &Partition) -> Result<()> {
        let keys = self.layout.partition(partition);
        let registry = self.layout.registry();
        if self.split {
            let mut add = redis::cmd("SADD");
            add.arg(&registry).arg(partition.name());
            self.calls.query::<i64>("create_partition", &add).await?;
            let mut set = redis::cmd("SET");
            set.arg(&keys.marker).arg(creation_token()).arg("NX");
            self.calls.query::<Value>("create_partition", &set).await?;
            return Ok(());
        }
        let script = &self.calls.scripts.create;
        let mut cmd = evalsha(script, 2);
        cmd.arg(&keys.marker)
            .arg(registry)
            .arg(partition.name())
            .arg(creation_token());
        self.calls
            .eval_write::<i64>("create_partition", script, &cmd)
            .await?;
        Ok(())
    }

    /// Drops `partition` with its data; `PartitionNotFound` when it has no marker.
    ///
    /// Step by step: each reads up to a thousand index entries and runs the drop script
    /// naming their value keys, until the index is empty and the script removes the
    /// marker (a partition of up to a thousand keys goes in one atomic step; a larger
    /// one shows fewer keys while it goes).
    pub async fn drop(&self, partition: &Partition) -> Result<()> {
        let keys = self.layout.partition(partition);
        let script = &self.calls.scripts.drop;
        let mut first = true;
        let done = loop {
            let mut page = redis::cmd("ZRANGE");
            page.arg(&keys.index).arg(0).arg(DROP_PAGE - 1);
            let entries: Vec<Bytes> = self.calls.query("drop_partition", &page).await?;
            let mut cmd = evalsha(script, 2 + entries.len() + usize::from(!self.split));
            cmd.arg(&keys.marker).arg(&keys.index);
            for entry in &entries {
                cmd.arg(keys.value(entry));
            }
            if !self.split {
                cmd.arg(self.layout.registry());
            }
            cmd.arg(partition.name())
                .arg(&keys.channel)
                .arg(self.publish)
                .arg(if self.split { "0" } else { "1" });
            for entry in &entries {
                cmd.arg(&entry[..]);
            }
            let step: i64 = self
                .calls
                .eval_write("drop_partition", script, &cmd)
                .await?;
            match step {
                2 => first = false,
                // Gone after an earlier step of ours: another drop finished it.
                0 if !first => break 1,
                done => break done,
            }
        };
        if self.split {
            let mut remove = redis::cmd("SREM");
            remove.arg(self.layout.registry()).arg(partition.name());
            self.calls.query::<i64>("drop_partition", &remove).await?;
        }
        if done == 0 {
            Err(not_found(partition))
        } else {
            Ok(())
        }
    }

    /// True when `partition` has a marker.
    pub async fn exists(&self, partition: &Partition) -> Result<bool> {
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(&self.layout.partition(partition).marker);
        self.calls.query("partition_exists", &cmd).await
    }

    /// The partitions, sorted.
    pub async fn list(&self) -> Result<Vec<Partition>> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(self.layout.registry());
        let names: Vec<String> = self.calls.query("list_partitions", &cmd).await?;
        let mut partitions = Vec::with_capacity(names.len());
        for name in names {
            let partition = Partition::parse(&name).map_err(|_| {
                Error::corruption(format!("partition registry holds a bad name {name:?}"))
            })?;
            // A create or drop cut short between its two steps leaves a name without
            // a marker: not a partition.
            if !self.split || self.exists(&partition).await? {
                partitions.push(partition);
            }
        }
        partitions.sort();
        Ok(partitions)
    }
}

/// `PartitionNotFound` unless the partition with `keys` has a marker; else the marker's
/// value, the token of this creation of the partition.
pub(crate) async fn require(
    calls: &Calls,
    partition: &Partition,
    keys: &PartitionKeys,
) -> Result<Bytes> {
    let mut cmd = redis::cmd("GET");
    cmd.arg(&keys.marker);
    let token: Option<Bytes> = calls.query("partition_exists", &cmd).await?;
    token.ok_or_else(|| not_found(partition))
}

/// A marker value no other creation of a partition has: the time in ns, this process,
/// and a counter.
fn creation_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}.{:x}.{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
