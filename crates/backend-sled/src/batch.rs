//! Conditional batches on sled: the trees a batch names, read under the committer's
//! locks ([`LockedView`]), and the planned writes applied as one atomic sled step.

use backend_api::{Bytes, Error, KeyRange, Partition, Result};
use backend_support::{LockedView, Write, live_header_len};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::error::{NAME, not_found, sled_err};
use crate::value;

/// The distinct trees of one batch, in order of first mention.
pub(crate) struct BatchTrees<'a> {
    trees: Vec<(&'a Partition, sled::Tree)>,
}

impl<'a> BatchTrees<'a> {
    /// Resolves every partition of `named` with `tree` (which the caller has already
    /// checked answers `Some` for each).
    pub(crate) fn resolve(
        named: impl Iterator<Item = &'a Partition>,
        mut tree: impl FnMut(&Partition) -> Option<sled::Tree>,
    ) -> Result<Self> {
        let mut trees: Vec<(&'a Partition, sled::Tree)> = Vec::new();
        for partition in named {
            if trees.iter().all(|(p, _)| *p != partition) {
                let t = tree(partition).ok_or_else(|| not_found(partition))?;
                trees.push((partition, t));
            }
        }
        Ok(BatchTrees { trees })
    }

    fn slot(&self, partition: &Partition) -> usize {
        self.trees
            .iter()
            .position(|(p, _)| *p == partition)
            .unwrap_or(0)
    }

    fn tree(&self, partition: &Partition) -> &sled::Tree {
        &self.trees[self.slot(partition)].1
    }

    /// Applies `writes` atomically: one tree alone takes a single insert or remove, or
    /// one `apply_batch`; several trees one sled transaction over them. No reads happen
    /// inside: the checks were made under the committer's locks, which every writer of
    /// these keys holds.
    pub(crate) fn commit(&self, writes: &[Write<'_>]) -> Result<()> {
        if self.trees.len() == 1 {
            let tree = &self.trees[0].1;
            return match writes {
                [Write::Put { key, stored, .. }] => {
                    tree.insert(key, value::ivec(*stored)).map(drop)
                }
                [Write::Delete { key, .. }] => tree.remove(key).map(drop),
                _ => {
                    let mut batch = sled::Batch::default();
                    for write in writes {
                        match write {
                            Write::Put { key, stored, .. } => {
                                batch.insert(*key, value::ivec(*stored));
                            }
                            Write::Delete { key, .. } => batch.remove(*key),
                            _ => return Err(range_unsupported()),
                        }
                    }
                    tree.apply_batch(batch)
                }
            }
            .map_err(sled_err);
        }
        let views: Vec<sled::Tree> = self.trees.iter().map(|(_, t)| t.clone()).collect();
        let result = views.as_slice().transaction(|views| {
            for write in writes {
                match write {
                    Write::Put {
                        partition,
                        key,
                        stored,
                        ..
                    } => {
                        views[self.slot(partition)].insert(*key, value::ivec(*stored))?;
                    }
                    Write::Delete { partition, key, .. } => {
                        views[self.slot(partition)].remove(*key)?;
                    }
                    _ => return Err(ConflictableTransactionError::Abort(())),
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Storage(e)) => Err(sled_err(e)),
            Err(TransactionError::Abort(())) => Err(range_unsupported()),
        }
    }
}

/// Range deletes never reach a commit (`range_delete` is false, so validation rejects
/// them); this is the answer should one ever do.
fn range_unsupported() -> Error {
    Error::unsupported(NAME, "range_delete")
}

impl LockedView for BatchTrees<'_> {
    /// Also serves `is_live`: the value is shared with sled's buffer, not copied.
    fn live_value(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        let Some(stored) = self.tree(partition).get(key).map_err(sled_err)? else {
            return Ok(None);
        };
        Ok(live_header_len(&stored)?.map(|header| value::user_bytes(stored, header)))
    }

    fn any_live(
        &self,
        partition: &Partition,
        range: &KeyRange,
        skip: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<bool> {
        for item in self.tree(partition).range(range.bounds()) {
            let (key, stored) = item.map_err(sled_err)?;
            if !skip(&key) && live_header_len(&stored)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
