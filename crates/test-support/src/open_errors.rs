//! Errors at open that name their path and keep their cause, checked the same way for
//! every persistent backend.

use std::error::Error as _;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use backend_api::Error;

/// A store path the OS refuses to create: a directory inside a `chmod 000` directory,
/// or, where permissions are not enforced (tests running as root), a directory under a
/// regular file. Returns the path and the temporary directory holding it.
pub fn refused_path() -> (PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("create a directory");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod 000");
    if std::fs::create_dir(locked.join("probe")).is_err() {
        return (locked.join("store"), dir);
    }
    eprintln!("permissions are not enforced here (root?): using a path under a regular file");
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a directory").expect("write a file");
    (file.join("store"), dir)
}

/// Opens a store at a [`refused_path`] with `open` and asserts the answer is
/// `Error::Io` whose message names the path and whose `io::Error` keeps the engine's or
/// the OS's error as its own source.
pub async fn assert_refused_open_names_the_path<F, Fut, T>(open: F)
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: Future<Output = backend_api::Result<T>>,
{
    let (path, _dir) = refused_path();
    let Err(error) = open(path.clone()).await else {
        panic!("opening a store at {path:?}, which the OS refuses, must fail");
    };
    assert_names_path(&error, &path);
}

fn assert_names_path(error: &Error, path: &Path) {
    assert!(
        matches!(error, Error::Io { .. }),
        "an OS error is Error::Io: {error:?}"
    );
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
        "the io::Error keeps the underlying error as its source: {io:?}"
    );
}
