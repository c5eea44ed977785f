//! Dump, restore and copy between real backends, interrupted, corrupted and resumed.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use backend_api::{Partition, ScanRange, StorageBackend};
use backend_mem::{MemBackend, MemConfig};
use futures_util::StreamExt;
use kv_transfer::{
    Compression, CopyOptions, DumpOptions, RestoreOptions, TransferError, digest_partition, ignore,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

mod counting;
use counting::Counting;

async fn mem() -> Arc<dyn StorageBackend> {
    Arc::new(MemBackend::open(MemConfig::new()).await.unwrap())
}

/// Fills `store` with three partitions: `users` (n keys), `bin` (binary keys and values,
/// one empty value), `empty`.
async fn fill(store: &dyn StorageBackend, n: u64) {
    let users = Partition::new("users").unwrap();
    let bin = Partition::new("bin").unwrap();
    for p in [&users, &bin, &Partition::new("empty").unwrap()] {
        store.create_partition(p).await.unwrap();
    }
    let mut ops = Vec::new();
    for i in 0..n {
        ops.push(backend_api::Operation::put(
            &users,
            format!("user:{i:08}"),
            format!("value-{i}-{}", "x".repeat((i % 50) as usize)),
        ));
        if ops.len() == 1000 {
            store.batch(std::mem::take(&mut ops)).await.unwrap();
        }
    }
    store.batch(ops).await.unwrap();
    store.put(&bin, &[0x00], &[0xff, 0x00]).await.unwrap();
    store.put(&bin, &[0xff; 40], b"").await.unwrap();
    store.put(&bin, b"\n\t\\", &[7u8; 70_000]).await.unwrap();
}

async fn contents(store: &dyn StorageBackend) -> Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)> {
    let mut out = Vec::new();
    for p in store.list_partitions().await.unwrap() {
        let mut s = store.scan(&p, ScanRange::all()).await.unwrap();
        let mut pairs = Vec::new();
        while let Some(item) = s.next().await {
            let (k, v) = item.unwrap();
            pairs.push((k.to_vec(), v.to_vec()));
        }
        out.push((p.name().to_owned(), pairs));
    }
    out
}

/// Restores `bytes` into `dst` with the default options.
async fn restore(
    bytes: &[u8],
    dst: &dyn StorageBackend,
) -> kv_transfer::Result<kv_transfer::Summary> {
    kv_transfer::restore(bytes, dst, &RestoreOptions::default(), &mut ignore).await
}

async fn dump_bytes(store: &dyn StorageBackend, compression: Compression) -> Vec<u8> {
    let mut options = DumpOptions::default();
    options.compression = compression;
    options.block_bytes = 8192;
    let (out, summary) = kv_transfer::dump(store, Vec::new(), &options, &mut ignore)
        .await
        .unwrap();
    assert_eq!(summary.partitions.len(), 3);
    assert_eq!(summary.extra, out.len() as u64);
    out
}

#[tokio::test]
async fn dump_and_restore_keep_every_pair_with_and_without_zstd() {
    let src = mem().await;
    fill(src.as_ref(), 5000).await;
    for compression in [Compression::None, Compression::Zstd(3)] {
        let bytes = dump_bytes(src.as_ref(), compression).await;
        let dst = mem().await;
        let summary = restore(&bytes[..], dst.as_ref()).await.unwrap();
        assert!(summary.verified);
        assert_eq!(contents(dst.as_ref()).await, contents(src.as_ref()).await);
        // A second restore into the same (now full) store is refused up front.
        let again = restore(&bytes[..], dst.as_ref()).await;
        assert!(
            matches!(again, Err(TransferError::NotEmpty { .. })),
            "{again:?}"
        );
    }
    let plain = dump_bytes(src.as_ref(), Compression::None).await.len();
    let zstd = dump_bytes(src.as_ref(), Compression::Zstd(3)).await.len();
    assert!(zstd < plain / 2, "zstd {zstd} vs plain {plain}");
}

#[tokio::test]
async fn a_dump_corrupted_at_any_byte_is_refused_naming_the_block() {
    let src = mem().await;
    fill(src.as_ref(), 3000).await;
    let seed: u64 = rand::rng().random();
    println!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    for compression in [Compression::None, Compression::Zstd(3)] {
        let good = dump_bytes(src.as_ref(), compression).await;
        for _ in 0..150 {
            let mut bad = good.clone();
            let at = rng.random_range(0..bad.len());
            bad[at] ^= 1 << rng.random_range(0..8);
            let dst = mem().await;
            let err = restore(&bad[..], dst.as_ref())
                .await
                .expect_err("corruption must be found");
            let TransferError::Corrupt { block, offset, .. } = &err else {
                panic!("byte {at}: {err}")
            };
            let text = err.to_string();
            match block {
                None => assert!(at < 32 && text.contains("file header"), "byte {at}: {text}"),
                Some(b) => {
                    assert!(text.contains(&format!("block {b}")), "{text}");
                    assert!(
                        *offset <= at as u64,
                        "byte {at} reported at block offset {offset}"
                    );
                }
            }
        }
        // Truncated anywhere: refused too.
        for _ in 0..30 {
            let cut = rng.random_range(0..good.len());
            let dst = mem().await;
            let err = restore(&good[..cut], dst.as_ref())
                .await
                .expect_err("truncation");
            assert!(
                matches!(err, TransferError::Corrupt { .. }),
                "cut at {cut}: {err}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        let dst = mem().await;
        let err = restore(&longer[..], dst.as_ref()).await.unwrap_err();
        assert!(
            err.to_string().contains("bytes follow the trailer"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn copy_verifies_and_refuses_a_full_destination() {
    let (src, dst) = (mem().await, mem().await);
    fill(src.as_ref(), 2000).await;
    let report = kv_transfer::copy(
        src.as_ref(),
        dst.as_ref(),
        &CopyOptions::default(),
        &mut ignore,
    )
    .await
    .unwrap();
    assert_eq!(report.keys, 2003);
    assert_eq!(report.verified.len(), 3);
    assert_eq!(contents(dst.as_ref()).await, contents(src.as_ref()).await);
    let again = kv_transfer::copy(
        src.as_ref(),
        dst.as_ref(),
        &CopyOptions::default(),
        &mut ignore,
    )
    .await;
    assert!(
        matches!(again, Err(TransferError::NotEmpty { .. })),
        "{again:?}"
    );
    // Merging into a destination with an extra key copies, then the check says so.
    let users = Partition::new("users").unwrap();
    dst.put(&users, b"zzz-extra", b"1").await.unwrap();
    let mut merge = CopyOptions::default();
    merge.merge = true;
    let err = kv_transfer::copy(src.as_ref(), dst.as_ref(), &merge, &mut ignore)
        .await
        .unwrap_err();
    match err {
        TransferError::Mismatch {
            partition,
            src_keys,
            dst_keys,
            ..
        } => {
            assert_eq!(
                (partition.as_str(), src_keys, dst_keys),
                ("users", 2000, 2001)
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn an_interrupted_copy_resumes_with_no_batch_written_twice() {
    let dir = tempfile::tempdir().unwrap();
    let src = mem().await;
    fill(src.as_ref(), 10_000).await;
    let dst_inner = mem().await;
    let counter = Arc::new(AtomicU64::new(0));
    let dst: Arc<dyn StorageBackend> = Arc::new(Counting::new(dst_inner.clone(), counter.clone()));
    let mut options = CopyOptions::default();
    options.batch_keys = 250;
    options.checkpoint = Some(dir.path().join("copy.checkpoint"));
    options.tag = "mem -> mem".into();
    let mut batches = 0;
    let err = kv_transfer::copy(src.as_ref(), dst.as_ref(), &options, &mut |_p| {
        batches += 1;
        if batches == 17 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await
    .unwrap_err();
    assert!(matches!(err, TransferError::Interrupted), "{err}");
    let first_run = counter.load(Ordering::SeqCst);
    assert!(first_run > 0 && first_run < 10_003);
    // A copy with another tag must not pick this checkpoint up.
    let mut other = options.clone();
    other.tag = "a -> b".into();
    assert!(matches!(
        kv_transfer::copy(src.as_ref(), dst.as_ref(), &other, &mut ignore).await,
        Err(TransferError::Checkpoint { .. })
    ));
    let report = kv_transfer::copy(src.as_ref(), dst.as_ref(), &options, &mut ignore)
        .await
        .unwrap();
    let total = counter.load(Ordering::SeqCst);
    assert_eq!(
        total, 10_003,
        "every pair written exactly once over both runs"
    );
    assert_eq!(report.keys, 10_003 - first_run);
    assert_eq!(
        contents(dst_inner.as_ref()).await,
        contents(src.as_ref()).await
    );
    assert!(
        !options.checkpoint.as_ref().unwrap().exists(),
        "checkpoint removed after verification"
    );
}

#[tokio::test]
async fn a_copy_that_dies_inside_a_batch_redoes_at_most_that_batch() {
    let dir = tempfile::tempdir().unwrap();
    let src = mem().await;
    fill(src.as_ref(), 10_000).await;
    let dst_inner = mem().await;
    let counter = Arc::new(AtomicU64::new(0));
    let failing = Counting::new(dst_inner.clone(), counter.clone()).fail_after_batches(23);
    let mut options = CopyOptions::default();
    options.batch_keys = 300;
    options.checkpoint = Some(dir.path().join("cp"));
    let err = kv_transfer::copy(src.as_ref(), &failing, &options, &mut ignore)
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::Backend { .. }), "{err}");
    let resumed = Counting::new(dst_inner.clone(), counter.clone());
    kv_transfer::copy(src.as_ref(), &resumed, &options, &mut ignore)
        .await
        .unwrap();
    let total = counter.load(Ordering::SeqCst);
    assert!(
        (10_003..=10_003 + 300).contains(&total),
        "{total} pairs written for 10003"
    );
    assert_eq!(
        contents(dst_inner.as_ref()).await,
        contents(src.as_ref()).await
    );
}

#[tokio::test]
async fn digests_tell_equal_from_different() {
    let (a, b) = (mem().await, mem().await);
    fill(a.as_ref(), 100).await;
    fill(b.as_ref(), 100).await;
    let users = Partition::new("users").unwrap();
    let da = digest_partition(a.as_ref(), &users, |_| {}).await.unwrap();
    assert_eq!(
        da,
        digest_partition(b.as_ref(), &users, |_| {}).await.unwrap()
    );
    b.put(&users, b"user:00000001", b"changed").await.unwrap();
    let db = digest_partition(b.as_ref(), &users, |_| {}).await.unwrap();
    assert_eq!(da.keys, db.keys);
    assert_ne!(da.hash, db.hash);
}

#[tokio::test]
async fn file_to_file_copy_and_dump_round_trip() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src: Arc<dyn StorageBackend> = Arc::new(
        backend_file::FileBackend::open(backend_file::FileConfig::new(dirs.0.path()))
            .await
            .unwrap(),
    );
    fill(src.as_ref(), 3000).await;
    let dst: Arc<dyn StorageBackend> = Arc::new(
        backend_file::FileBackend::open(backend_file::FileConfig::new(dirs.1.path()))
            .await
            .unwrap(),
    );
    kv_transfer::copy(
        src.as_ref(),
        dst.as_ref(),
        &CopyOptions::default(),
        &mut ignore,
    )
    .await
    .unwrap();
    assert_eq!(contents(dst.as_ref()).await, contents(src.as_ref()).await);
    src.close().await.unwrap();
    dst.close().await.unwrap();
}
