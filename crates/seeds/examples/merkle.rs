//! Irmin-style: store a directory as a Merkle tree of content-addressed objects and
//! commit it on branch `main`, on any backend.
//!
//! ```sh
//! cargo run -p seeds --example merkle -- <directory> [backend URL]
//! cargo run -p seeds --example merkle -- crates/seeds file:/tmp/merkle-store
//! ```
//!
//! The URL defaults to a fresh `file:` store in a temporary directory (any URL of
//! `backend-url` works: `mem://`, `file:`, `redis://`...). Files become blobs, a
//! directory becomes a tree object listing `blob|tree <hash> <name>` lines in name
//! order, and a commit object names the root tree and the previous commit; the branch
//! moves with `test_and_set`, so two committers never overwrite each other. Running it
//! twice on an unchanged directory yields the same tree hash and adds no object.

use std::path::Path;
use std::sync::Arc;

use backend_api::{Error, Result, StorageBackend};
use seeds::content::{ContentStore, Hash, LinkStore};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: merkle <directory> [backend URL]");
        std::process::exit(2);
    };
    let scratch = tempfile::tempdir().expect("create a temporary directory");
    let url = args
        .next()
        .unwrap_or_else(|| format!("file:{}", scratch.path().display()));
    if let Err(e) = run(Path::new(&dir), &url).await {
        eprintln!("merkle: {e}");
        std::process::exit(1);
    }
}

async fn run(dir: &Path, url: &str) -> Result<()> {
    let backend: Arc<dyn StorageBackend> =
        backend_url::open(url)
            .await
            .map_err(|e| Error::InvalidConfig {
                detail: e.to_string(),
                source: Some(Box::new(e)),
            })?;
    let objects = ContentStore::open(backend.clone(), "merkle").await?;
    let branches = LinkStore::open(backend.clone(), "merkle").await?;

    let (root, files) = Box::pin(add_tree(&objects, dir)).await?;
    let commit = loop {
        let parent = branches.find(b"main").await?;
        let text = format!(
            "tree {root}\nparent {}\nmessage snapshot of {}\n",
            parent.map_or("none".to_owned(), |p| p.to_string()),
            dir.display()
        );
        let commit = objects.add(text.as_bytes()).await?;
        if !backend.capabilities().compare_and_swap {
            branches.set(b"main", &commit).await?;
            break commit;
        }
        if branches
            .test_and_set(b"main", parent.as_ref(), Some(&commit))
            .await?
        {
            break commit;
        }
    };
    let checked = Box::pin(count_files(&objects, &root)).await?;
    assert_eq!(
        checked, files,
        "every file reads back, verified by its hash"
    );
    println!("backend  {url} ({})", backend.name());
    println!("files    {files} (each read back and verified)");
    println!("tree     {root}");
    println!("commit   {commit} (branch main)");
    backend.close().await
}

/// Maps an OS error on `path` into the contract's error naming the path.
fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Adds the files and subdirectories of `dir`; returns the tree's hash and the number
/// of files under it.
async fn add_tree(objects: &ContentStore, dir: &Path) -> Result<(Hash, usize)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .and_then(|it| it.collect::<std::io::Result<_>>())
        .map_err(io_at(dir))?;
    entries.sort_by_key(|e| e.file_name());
    let (mut listing, mut files) = (String::new(), 0);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let kind = entry.file_type().map_err(io_at(&path))?;
        if kind.is_dir() {
            let (hash, n) = Box::pin(add_tree(objects, &path)).await?;
            listing.push_str(&format!("tree {hash} {name}\n"));
            files += n;
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).map_err(io_at(&path))?;
            let hash = objects.add(&bytes).await?;
            listing.push_str(&format!("blob {hash} {name}\n"));
            files += 1;
        }
    }
    Ok((objects.add(listing.as_bytes()).await?, files))
}

/// Walks the tree `hash` back from the store, verifying every object; counts files.
async fn count_files(objects: &ContentStore, hash: &Hash) -> Result<usize> {
    let missing = || Error::Corruption {
        detail: format!("tree object {hash} is missing"),
    };
    let tree = objects.find(hash).await?.ok_or_else(missing)?;
    let mut files = 0;
    for line in String::from_utf8_lossy(&tree).lines() {
        let mut parts = line.splitn(3, ' ');
        let (kind, child) = (parts.next(), parts.next().map(str::parse::<Hash>));
        match (kind, child) {
            (Some("tree"), Some(child)) => files += Box::pin(count_files(objects, &child?)).await?,
            (Some("blob"), Some(child)) => {
                objects.find(&child?).await?.ok_or_else(missing)?;
                files += 1;
            }
            _ => return Err(missing()),
        }
    }
    Ok(files)
}
