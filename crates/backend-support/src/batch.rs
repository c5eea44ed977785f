//! Whole-batch validation.

use backend_api::{Capabilities, Error, Operation, Partition, Result};

/// Checks every operation of a batch before anything is written: key, value and TTL
/// against `caps`, and that its partition exists according to `exists`.
pub fn validate_batch(
    caps: &Capabilities,
    backend: &'static str,
    operations: &[Operation],
    mut exists: impl FnMut(&Partition) -> bool,
) -> Result<()> {
    for op in operations {
        caps.check_operation(op, backend)?;
        if !exists(op.partition()) {
            return Err(Error::PartitionNotFound(op.partition().name().to_owned()));
        }
    }
    Ok(())
}
