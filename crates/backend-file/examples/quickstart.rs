//! The README's quickstart: `cargo run -p backend-file --example quickstart`.
//! (The README's copy is compiled as a doc test of backend-file, so the two stay in step.)

use backend_api::{Partition, ScanRange, StorageBackend};
use backend_file::{FileBackend, FileConfig};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> backend_api::Result<()> {
    let dir = std::env::temp_dir().join("kv-backends-quickstart");
    let store = FileBackend::open(FileConfig::new(&dir)).await?;

    let users = Partition::new("users")?;
    store.create_partition(&users).await?;
    store.put(&users, b"user:1", b"Ada").await?;
    store.put(&users, b"user:2", b"Grace").await?;
    let ada = store.get(&users, b"user:1").await?;
    assert_eq!(ada.as_deref(), Some(&b"Ada"[..]));

    let mut scan = store.scan(&users, ScanRange::prefix("user:")).await?;
    while let Some(item) = scan.next().await {
        let (key, value) = item?;
        println!("{key:?} = {value:?}");
    }
    store.close().await
}
