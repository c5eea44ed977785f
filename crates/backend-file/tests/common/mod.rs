//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[allow(unsafe_code)] // test-only: the counting allocator.
pub mod counting;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use backend_api::{Partition, ScanRange, StorageBackend};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use futures_util::StreamExt;

/// A multi-threaded runtime for a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A config without background sync or automatic merge, so files change only when the
/// test says so.
pub fn quiet(dir: &Path) -> FileConfig {
    FileConfig::new(dir)
        .sync_policy(SyncPolicy::Never)
        .merge_trigger(None)
}

/// The data files in `dir`, in id order.
pub fn data_files(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, ".data")
}

/// The hint files in `dir`, in id order.
pub fn hint_files(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, ".hint")
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

/// Every pair of `p`, by scan.
pub async fn dump(
    store: &FileBackend,
    p: &Partition,
) -> backend_api::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut s = store.scan(p, ScanRange::all()).await?;
    while let Some(item) = s.next().await {
        let (k, v) = item?;
        out.insert(k.to_vec(), v.to_vec());
    }
    Ok(out)
}

/// Every file of a directory, by name.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Makes `dir` hold exactly the files of `snap`.
pub fn restore(dir: &Path, snap: &BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if !snap.contains_key(&*e.file_name().to_string_lossy()) {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    for (name, bytes) in snap {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
