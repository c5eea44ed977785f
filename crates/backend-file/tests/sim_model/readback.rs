//! Reading a store back in full after a reopen: every partition by scan, every key by
//! `get` as well, which must agree.

use backend_api::{Partition, ScanRange, StorageBackend};
use backend_file::FileBackend;
use futures_util::StreamExt;

use super::model::{KEYS, Observed, PARTS, key, part_name};

/// Partition `p`.
pub fn partition(p: usize) -> Partition {
    Partition::new(part_name(p)).expect("a valid name")
}

/// Everything the store holds, by scan; every key also read by `get`, which must agree.
pub async fn observe(store: &FileBackend) -> Result<Observed, String> {
    let mut seen = Vec::new();
    for p in 0..PARTS {
        let part = partition(p);
        if !store
            .partition_exists(&part)
            .await
            .map_err(|e| e.to_string())?
        {
            seen.push(None);
            continue;
        }
        let mut pairs = std::collections::BTreeMap::new();
        let mut s = store
            .scan(&part, ScanRange::all())
            .await
            .map_err(|e| e.to_string())?;
        while let Some(item) = s.next().await {
            let (k, v) = item.map_err(|e| e.to_string())?;
            pairs.insert(k.to_vec(), v.to_vec());
        }
        for k in 0..KEYS {
            let got = store.get(&part, &key(k)).await.map_err(|e| e.to_string())?;
            if got.as_deref() != pairs.get(&key(k)).map(Vec::as_slice) {
                return Err(format!("{}/k{k}: get and scan disagree", part_name(p)));
            }
        }
        seen.push(Some(pairs));
    }
    Ok(seen)
}
