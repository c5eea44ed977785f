//! Partition management: create, drop, list, names, isolation.

use backend_api::{Error, Partition};

use crate::{Ctx, Harness, Outcome};

/// Creating a partition twice is Ok, and it is listed and exists once.
pub async fn create_partition_is_idempotent<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("things").await;
    cx.backend.create_partition(&p).await.expect("second create is Ok");
    assert!(cx.backend.partition_exists(&p).await.unwrap());
    let listed = cx.backend.list_partitions().await.unwrap();
    assert_eq!(listed.iter().filter(|x| **x == p).count(), 1, "listed once: {listed:?}");
    Ok(())
}

/// Every invalid name is refused by `Partition::new` before any I/O.
pub async fn bad_partition_names_are_rejected<H: Harness>(_h: H) -> Outcome {
    let long = "a".repeat(65);
    for bad in ["", ".", "..", "a/b", "a:b", "*", "é", "ü_x", long.as_str(), "sys_x"] {
        assert!(
            matches!(Partition::new(bad), Err(Error::InvalidPartitionName { .. })),
            "{bad:?} must be rejected"
        );
    }
    Ok(())
}
