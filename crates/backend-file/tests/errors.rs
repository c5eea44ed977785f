//! Errors a program can act on: an OS refusal names the path and keeps the OS error as
//! its source; a held lock is `Locked`, recognised from the error kind.

use std::error::Error as _;

use backend_api::{Error, StorageBackend};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use test_support::open_errors::refused_path;

#[tokio::test]
async fn a_directory_the_os_refuses_is_an_io_error_naming_the_path() {
    let (path, _dir) = refused_path();
    let err = FileBackend::open(FileConfig::new(&path))
        .await
        .expect_err("the OS refuses this directory");
    let Error::Io { path: at, .. } = &err else {
        panic!("expected Error::Io, got {err:?}");
    };
    assert!(path.starts_with(at), "{at:?} is {path:?} or a parent");
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    let source = err.source().expect("the io::Error is kept as source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert!(
        matches!(
            io.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotADirectory
        ),
        "{io:?}"
    );
}

#[tokio::test]
async fn a_second_open_is_locked_with_the_os_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let config = FileConfig::new(dir.path()).sync_policy(SyncPolicy::Never);
    let first = FileBackend::open(config.clone()).await.unwrap();
    let err = FileBackend::open(config).await.expect_err("locked");
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::WouldBlock));
    first.close().await.unwrap();
}
