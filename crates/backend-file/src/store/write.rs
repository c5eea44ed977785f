//! The write paths: one record, a list of records, a checked batch. Each validates and
//! appends under the writer lock, so nothing writes between its checks and its append;
//! waiting for durability is the caller's (`backend.rs`, off the lock).

use backend_api::{BatchOutcome, Check, Operation, Partition, PutOptions, Result};
use backend_support::{ttl, validate_conditional_batch};

use super::{Store, live_in};
use crate::error::NAME;
use crate::format::{Kind, encode_range};
use crate::keydir::State;
use crate::plan::{Op, plan};

/// What an append did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Written {
    /// Sequence number of the last record written; 0: nothing was written.
    pub seq: u64,
    /// The store is past the automatic merge trigger.
    pub merge_due: bool,
}

impl Store {
    /// Writes the records `ops` builds from the keydir (one record, or one framed batch
    /// when `batch`); partition creations get their ids here.
    pub fn write_ops<'a>(
        &self,
        ops: impl FnOnce(&State) -> Result<Vec<Op<'a>>>,
        batch: bool,
    ) -> Result<Written> {
        let mut w = self.writer.lock();
        self.check_writable()?;
        let mut ops = ops(&self.state.read())?;
        for o in &mut ops {
            if o.kind == Kind::CreatePartition {
                o.pid = w.next_pid;
                w.next_pid += 1;
            }
        }
        self.append(&mut w, &ops, batch)
    }

    /// Writes one put or delete record (the common case, without building a list). A
    /// delete of a key that is absent or expired writes nothing.
    pub fn write_one(
        &self,
        partition: &Partition,
        kind: Kind,
        key: &[u8],
        value: &[u8],
        expiry: u64,
    ) -> Result<Written> {
        let mut w = self.writer.lock();
        self.check_writable()?;
        let o = {
            let st = self.state.read();
            let p = Store::part(&st, partition)?;
            if kind == Kind::Delete && !live_in(p, key) {
                return Ok(Written::default());
            }
            Op {
                value,
                expiry,
                ..Op::new(partition, p.id, kind, key)
            }
        };
        self.append(&mut w, std::slice::from_ref(&o), false)
    }

    /// The one write path of `batch`, `conditional_batch` and `compare_and_swap`.
    ///
    /// Validates under the writer lock (arguments of the checks and operations in order,
    /// then every partition named), evaluates the checks (an expired key is absent) and
    /// appends the operations as one framed write. A delete of a key absent at its point
    /// of the batch, and a range delete that removes no live key, write nothing.
    pub fn conditional(
        &self,
        checks: &[Check],
        operations: &[Operation],
    ) -> Result<(BatchOutcome, Written)> {
        let expiries: Vec<u64> = operations
            .iter()
            .map(|o| match o {
                Operation::Put { options, .. } => expiry_of(options),
                _ => 0,
            })
            .collect();
        let ranges: Vec<Vec<u8>> = operations
            .iter()
            .map(|o| match o {
                Operation::DeleteRange { range, .. } => encode_range(range),
                _ => Vec::new(),
            })
            .collect();
        let mut w = self.writer.lock();
        self.check_open()?;
        {
            let st = self.state.read();
            validate_conditional_batch(&self.caps, NAME, checks, operations, |p| {
                st.parts.contains_key(p.name())
            })?;
        }
        self.check_writable()?;
        for (index, check) in checks.iter().enumerate() {
            let current = match &check.expected {
                None if !self.exists(&check.partition, &check.key)? => None,
                _ => self.get(&check.partition, &check.key)?,
            };
            if !check.holds(current.as_deref()) {
                let outcome = BatchOutcome::CheckFailed { index, current };
                return Ok((outcome, Written::default()));
            }
        }
        let ops = plan(&self.state.read(), operations, &expiries, &ranges)?;
        let written = self.append(&mut w, &ops, ops.len() > 1)?;
        Ok((BatchOutcome::Applied, written))
    }
}

/// The deadline (ms since the epoch, 0 = none) `options` asks for.
pub fn expiry_of(options: &PutOptions) -> u64 {
    options.ttl.map_or(0, |t| ttl::deadline_ms(t).max(1))
}
