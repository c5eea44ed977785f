//! How a layer names the partitions it owns.

use backend_api::{Partition, Result};

/// The partition `<name><suffix>`; [`Error::InvalidPartitionName`] when the whole is not
/// 1 to 64 characters of `[A-Za-z0-9_]` (so `name` may use 64 minus the suffix's
/// length).
///
/// [`Error::InvalidPartitionName`]: backend_api::Error::InvalidPartitionName
pub(crate) fn layer_partition(name: &str, suffix: &str) -> Result<Partition> {
    Partition::new(format!("{name}{suffix}"))
}
