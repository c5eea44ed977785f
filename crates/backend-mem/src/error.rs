//! The errors backend-mem raises itself. It has no engine or OS below it, so there is no
//! error to map and no source to keep; each error names the partition or setting it
//! concerns and says what to change.

use backend_api::{Error, Partition};

/// The backend's name in errors and reports.
pub(crate) const NAME: &str = "mem";

/// `PartitionNotFound` for `partition`.
pub(crate) fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}

/// `InvalidConfig` saying which setting is unusable and why.
pub(crate) fn invalid_config(detail: &str) -> Error {
    Error::InvalidConfig {
        detail: format!("{NAME} backend: {detail}"),
        source: None,
    }
}

/// `InvalidValue` for an entry of `cost` accounted bytes that can never fit under a
/// memory cap of `cap` bytes.
pub(crate) fn over_cap(cost: u64, overhead: u64, cap: u64) -> Error {
    Error::InvalidValue {
        reason: format!(
            "an entry of {cost} bytes (key + value + {overhead} overhead) exceeds \
             max_memory of {cap} bytes; raise max_memory"
        ),
    }
}
