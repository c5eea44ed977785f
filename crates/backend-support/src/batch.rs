//! Whole-batch validation, in the contract's error order.
//!
//! `docs/contract.md` ("Decided edges") fixes which error wins when a call has several
//! faults: argument errors first, in argument order (each check, then each operation:
//! its key or range bounds, its value, an option the backend lacks), and only then
//! `PartitionNotFound` for the first missing partition (checks, then operations). These
//! functions run that order so a backend need not re-derive it. Call them before
//! writing anything; the handle's `Closed` check comes before them, and `Unsupported`
//! for the whole operation before that.

use backend_api::{Capabilities, Check, Error, Operation, Partition, Result};

/// Checks every operation of a batch before anything is written: first each op's key
/// (or range bounds), value and options against `caps`, in order; then that each op's
/// partition exists according to `exists`, in order.
///
/// ```
/// use backend_api::{Capabilities, Error, Operation, Partition};
/// let caps = Capabilities::default();
/// let (here, gone) = (Partition::new("here").unwrap(), Partition::new("gone").unwrap());
/// let ops = vec![Operation::put(&gone, "k", "v"), Operation::put(&here, "", "v")];
/// // The bad key in the second op wins over the missing partition of the first.
/// let r = backend_support::validate_batch(&caps, "mine", &ops, |p| *p == here);
/// assert!(matches!(r, Err(Error::InvalidKey { .. })));
/// ```
pub fn validate_batch(
    caps: &Capabilities,
    backend: &'static str,
    operations: &[Operation],
    exists: impl FnMut(&Partition) -> bool,
) -> Result<()> {
    validate_conditional_batch(caps, backend, &[], operations, exists)
}

/// [`validate_batch`] for a conditional batch: each check's key, then each operation's
/// arguments, then every partition named (checks first, then operations).
///
/// ```
/// use backend_api::{Capabilities, Check, Error, Operation, Partition};
/// let caps = Capabilities::default();
/// let p = Partition::new("p").unwrap();
/// let gone = Partition::new("gone").unwrap();
/// let checks = vec![Check::absent(&gone, "k")];
/// let r = backend_support::validate_conditional_batch(
///     &caps, "mine", &checks, &[Operation::put(&p, "k", "v")], |q| *q == p);
/// assert!(matches!(r, Err(Error::PartitionNotFound(name)) if name == "gone"));
/// ```
pub fn validate_conditional_batch(
    caps: &Capabilities,
    backend: &'static str,
    checks: &[Check],
    operations: &[Operation],
    mut exists: impl FnMut(&Partition) -> bool,
) -> Result<()> {
    for check in checks {
        caps.check_check(check)?;
    }
    for op in operations {
        caps.check_operation(op, backend)?;
    }
    let named = checks
        .iter()
        .map(|c| &c.partition)
        .chain(operations.iter().map(Operation::partition));
    for partition in named {
        if !exists(partition) {
            return Err(Error::PartitionNotFound(partition.name().to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use backend_api::KeyRange;

    use super::*;

    fn p(name: &str) -> Partition {
        Partition::new(name).unwrap()
    }

    #[test]
    fn argument_errors_come_before_missing_partitions() {
        let caps = Capabilities::default();
        let exists = |q: &Partition| q.name() == "here";
        let ops = [
            Operation::delete(&p("gone"), "k"),
            Operation::put(&p("here"), "k", vec![0u8; caps.max_value_len + 1]),
        ];
        let r = validate_batch(&caps, "t", &ops, exists);
        assert!(matches!(r, Err(Error::InvalidValue { .. })), "{r:?}");
        let ops = [
            Operation::delete(&p("gone"), "k"),
            Operation::delete_range(&p("here"), KeyRange::prefix("x")),
        ];
        let r = validate_batch(&caps, "t", &ops, exists);
        assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
        let checks = [
            Check::absent(&p("gone"), ""),
            Check::absent(&p("here"), "k"),
        ];
        let r = validate_conditional_batch(&caps, "t", &checks, &[], exists);
        assert!(matches!(r, Err(Error::InvalidKey { .. })), "{r:?}");
        let ops = [
            Operation::put(&p("here"), "k", "v"),
            Operation::put(&p("gone"), "k", "v"),
        ];
        let r = validate_conditional_batch(&caps, "t", &[], &ops, exists);
        assert!(matches!(r, Err(Error::PartitionNotFound(n)) if n == "gone"));
        assert!(validate_batch(&caps, "t", &[], exists).is_ok());
    }
}
