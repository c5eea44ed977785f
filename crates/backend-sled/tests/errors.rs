//! Errors that name their path and keep their cause: opening a store where the OS
//! refuses to create it, and a store another handle holds.

use std::error::Error as _;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use backend_api::Error;
use backend_sled::{SledBackend, SledConfig};

/// A store path the OS refuses to create: a directory inside a `chmod 000` directory,
/// or, where permissions are not enforced (the tests run as root), a directory under a
/// regular file. Returns the path and the temp dir holding it.
fn refused_path() -> (PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::create_dir(locked.join("probe")).is_err() {
        return (locked.join("store"), dir);
    }
    eprintln!("permissions are not enforced here (root?): using a path under a regular file");
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a directory").unwrap();
    (file.join("store"), dir)
}

#[tokio::test]
async fn refused_directory_names_the_path_and_keeps_the_source() {
    let (path, _dir) = refused_path();
    let error = SledBackend::open(SledConfig::new(&path))
        .await
        .expect_err("opening a store the OS refuses must fail");
    assert!(
        matches!(error, Error::Io(_)),
        "an OS error is Error::Io: {error:?}"
    );
    eprintln!("{error}");
    let shown = error.to_string();
    assert!(
        shown.contains(&path.display().to_string()),
        "{shown:?} names {path:?}"
    );
    let io = error
        .source()
        .expect("Error::Io has the io::Error as source");
    assert!(
        io.source().is_some(),
        "the io::Error keeps the OS error as its source: {io:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_store_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledBackend::open(SledConfig::new(dir.path()))
        .await
        .unwrap();
    let error = SledBackend::open(SledConfig::new(dir.path()))
        .await
        .expect_err("a second handle must not open a held store");
    assert!(matches!(error, Error::Locked { .. }), "{error:?}");
}
