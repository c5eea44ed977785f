//! Helpers shared by the cases.

use std::sync::Arc;

use backend_api::{Error, StorageBackend};
use conformance::{Harness, Skip};

/// `Err(Skip)` after checking that `result` is `Error::Unsupported`, as the contract
/// demands of an operation whose capability is false.
pub fn unsupported<T>(result: backend_api::Result<T>, why: &str) -> Result<(), Skip> {
    match result {
        Err(Error::Unsupported { .. }) => Err(Skip(why.to_owned())),
        Err(e) => panic!("{why}: expected Error::Unsupported, got {e}"),
        Ok(_) => panic!("{why}: expected Error::Unsupported, got Ok"),
    }
}

/// A fresh store's handle.
pub async fn backend<H: Harness>(h: H) -> (conformance::Ctx<H>, Arc<dyn StorageBackend>) {
    let cx = conformance::Ctx::new(h).await;
    let backend = cx.backend.clone();
    (cx, backend)
}

/// The keys of `partition`, counted with a keys-only scan (exact on every backend).
pub async fn count(backend: &dyn StorageBackend, partition: &backend_api::Partition) -> usize {
    use futures_util::StreamExt;
    let scan = backend
        .scan(partition, backend_api::ScanRange::all().keys_only())
        .await
        .expect("scan");
    scan.map(|item| item.expect("scan item")).count().await
}
