//! Errors that name their path and keep their cause: opening a store where the OS
//! refuses to create it. (A second open of a held store answering `Locked` is the
//! battery's `second_open_is_locked`.)

use backend_rocks::{RocksBackend, RocksConfig};

#[tokio::test]
async fn refused_directory_names_the_path_and_keeps_the_source() {
    test_support::open_errors::assert_refused_open_names_the_path(|path| async move {
        RocksBackend::open(RocksConfig::new(path)).await
    })
    .await;
}
