//! Compare-and-swap as the one-key conditional batch, for backends whose CAS and
//! conditional batch share one write path (the contract: "CAS is the one-key
//! conditional batch").

use backend_api::{BatchOutcome, Bytes, CasOutcome, Check, Operation, Partition};

/// The check and the write of `compare_and_swap(partition, key, expected, new)`: `key`
/// must hold `expected` (`None`: absent), then it is set to `new` (`None`: deleted,
/// which writes nothing when the key is already absent).
pub fn cas_as_batch(
    partition: &Partition,
    key: &[u8],
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> (Check, Operation) {
    let key = Bytes::copy_from_slice(key);
    let check = Check::new(partition, key.clone(), expected.map(Bytes::copy_from_slice));
    let write = match new {
        Some(value) => Operation::put(partition, key, Bytes::copy_from_slice(value)),
        None => Operation::delete(partition, key),
    };
    (check, write)
}

/// The CAS answer for the outcome of the batch [`cas_as_batch`] built.
pub fn cas_outcome(outcome: BatchOutcome) -> CasOutcome {
    match outcome {
        BatchOutcome::CheckFailed { current, .. } => CasOutcome::Mismatch { current },
        _ => CasOutcome::Swapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_one_key_batch_and_maps_its_outcome() {
        let p = Partition::new("p").unwrap();
        let (check, write) = cas_as_batch(&p, b"k", None, Some(b"v"));
        assert_eq!(check, Check::absent(&p, "k"));
        assert_eq!(write, Operation::put(&p, "k", "v"));
        let (check, write) = cas_as_batch(&p, b"k", Some(b"v"), None);
        assert_eq!(check, Check::equals(&p, "k", "v"));
        assert_eq!(write, Operation::delete(&p, "k"));
        assert_eq!(cas_outcome(BatchOutcome::Applied), CasOutcome::Swapped);
        let failed = BatchOutcome::CheckFailed {
            index: 0,
            current: Some(Bytes::from("x")),
        };
        assert_eq!(
            cas_outcome(failed),
            CasOutcome::Mismatch {
                current: Some(Bytes::from("x"))
            }
        );
    }
}
