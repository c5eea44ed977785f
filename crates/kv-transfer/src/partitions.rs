//! Which partitions a transfer covers, and counting them.

use backend_api::{Partition, StorageBackend};

use crate::{Result, TransferError};

/// `only` if given, else every partition of `src` (system ones included).
pub(crate) async fn select(
    src: &dyn StorageBackend,
    only: Option<&[Partition]>,
) -> Result<Vec<Partition>> {
    match only {
        Some(list) => Ok(list.to_vec()),
        None => src
            .list_partitions()
            .await
            .map_err(TransferError::backend(format!(
                "listing the partitions of {}",
                src.name()
            ))),
    }
}

/// The total of `len` over `parts` when `src` counts exactly; `None` otherwise.
pub(crate) async fn total(src: &dyn StorageBackend, parts: &[Partition]) -> Result<Option<u64>> {
    if !src.capabilities().exact_len {
        return Ok(None);
    }
    let mut sum = 0;
    for p in parts {
        sum += src.len(p).await.map_err(TransferError::backend(format!(
            "counting partition {}",
            p.name()
        )))?;
    }
    Ok(Some(sum))
}
