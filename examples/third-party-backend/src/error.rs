//! The errors this backend raises. It has no engine below it, so there is no engine
//! error to map; the errors name the partition they concern.

use backend_api::{Error, Partition};

/// The backend's name in errors and reports.
pub(crate) const NAME: &str = "sorted-vec";

/// `PartitionNotFound` for `partition`.
pub(crate) fn not_found(partition: &Partition) -> Error {
    Error::PartitionNotFound(partition.name().to_owned())
}
