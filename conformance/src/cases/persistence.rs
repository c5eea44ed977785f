//! Persistence: what survives closing a handle and opening the store again.

use std::time::Duration;

use backend_api::{Bytes, Operation, PutOptions, ScanRange};

use super::keys_values::binary_keys;
use super::util::{assert_not_found, b, batch_offered, scan, wait_absent};
use crate::{Ctx, Harness, Outcome, require};

macro_rules! require_persistent {
    ($cx:expr) => {
        require!($cx.caps.persistent, "persistent is false")
    };
}

/// Contract section "Durability" (reopen): puts, overwrites, deletes, empty values,
/// binary keys and batches written before close are all there after reopening, exactly
/// (deleted keys do not come back); writing after a reopen and reopening again works.
pub async fn reopen_keeps_writes<H: Harness>(h: H) -> Outcome {
    let mut cx = Ctx::new(h).await;
    require_persistent!(cx);
    let p = cx.partition("durable").await;
    let be = cx.backend.clone();
    let keys = binary_keys();
    for k in &keys {
        be.put(&p, k, b"first").await.unwrap();
    }
    for k in keys.iter().step_by(2) {
        be.put(&p, k, k).await.unwrap();
    }
    for k in keys.iter().skip(1).step_by(4) {
        be.delete(&p, k).await.unwrap();
    }
    be.put(&p, b"empty", b"").await.unwrap();
    be.put(&p, b"big", &vec![9u8; 100_000]).await.unwrap();
    if batch_offered(&*be, cx.caps.atomic_batch).await {
        be.batch(vec![
            Operation::put(&p, "batched", "1"),
            Operation::delete(&p, "empty"),
            Operation::put(&p, "empty", ""),
        ])
        .await
        .unwrap();
    }
    let before = scan(&*be, &p, ScanRange::all()).await;
    drop(be);
    cx.reopen().await;
    let after = scan(&*cx.backend, &p, ScanRange::all()).await;
    assert_eq!(
        after.iter().map(|(k, _)| k.clone()).collect::<Vec<Bytes>>(),
        before
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<Vec<Bytes>>(),
        "keys after reopen"
    );
    assert!(after == before, "values changed across reopen");
    assert_eq!(
        cx.backend.get(&p, b"empty").await.unwrap(),
        Some(Bytes::new())
    );
    cx.backend.put(&p, b"second_life", b"2").await.unwrap();
    cx.backend.delete(&p, b"big").await.unwrap();
    cx.reopen().await;
    assert_eq!(
        cx.backend.get(&p, b"second_life").await.unwrap(),
        Some(b("2"))
    );
    assert_eq!(
        cx.backend.get(&p, b"big").await.unwrap(),
        None,
        "a delete was lost on reopen"
    );
    Ok(())
}

/// Contract rows "create_partition"/"drop_partition" across reopen: created partitions
/// survive (also empty ones), dropped ones stay dropped with their data gone, and a
/// dropped-then-recreated partition keeps only its new data.
pub async fn reopen_keeps_partitions_and_drops<H: Harness>(h: H) -> Outcome {
    let mut cx = Ctx::new(h).await;
    require_persistent!(cx);
    let a = cx.partition("keep_a").await;
    let bp = cx.partition("keep_b").await;
    let c = cx.partition("keep_c").await;
    let empty = cx.partition("keep_empty").await;
    for p in [&a, &bp, &c] {
        cx.backend
            .put(p, b"old", p.name().as_bytes())
            .await
            .unwrap();
    }
    cx.backend.drop_partition(&bp).await.unwrap();
    cx.backend.drop_partition(&c).await.unwrap();
    cx.backend.create_partition(&c).await.unwrap();
    cx.backend.put(&c, b"new", b"c2").await.unwrap();
    cx.reopen().await;
    let listed = cx.backend.list_partitions().await.unwrap();
    for p in [&a, &c, &empty] {
        assert!(listed.contains(p), "{p} lost on reopen: {listed:?}");
    }
    assert!(!listed.contains(&bp), "dropped {bp} came back: {listed:?}");
    assert!(!cx.backend.partition_exists(&bp).await.unwrap());
    assert_not_found(
        cx.backend.get(&bp, b"old").await,
        &bp,
        "get on a dropped partition after reopen",
    );
    assert_eq!(cx.backend.get(&a, b"old").await.unwrap(), Some(b("keep_a")));
    assert_eq!(
        scan(&*cx.backend, &c, ScanRange::all()).await,
        vec![(b("new"), b("c2"))],
        "a dropped and re-created partition shows old data"
    );
    assert!(cx.backend.is_empty(&empty).await.unwrap());
    cx.backend.create_partition(&bp).await.unwrap();
    assert!(
        cx.backend.is_empty(&bp).await.unwrap(),
        "re-created after reopen shows old data"
    );
    Ok(())
}

/// Contract row "flush": every acknowledged write is durable when it returns; after a
/// flush and a reopen, all of them are there.
pub async fn flush_then_reopen<H: Harness>(h: H) -> Outcome {
    let mut cx = Ctx::new(h).await;
    require_persistent!(cx);
    let p = cx.partition("flushed").await;
    for i in 0..500u32 {
        cx.backend
            .put(&p, &i.to_be_bytes(), &i.to_le_bytes())
            .await
            .unwrap();
    }
    cx.backend.flush().await.unwrap();
    cx.reopen().await;
    let pairs = scan(&*cx.backend, &p, ScanRange::all()).await;
    assert_eq!(pairs.len(), 500);
    for (k, v) in pairs {
        let i = u32::from_be_bytes(k[..].try_into().unwrap());
        assert_eq!(v, b(i.to_le_bytes()));
    }
    Ok(())
}

/// Contract row "TTL" across reopen: a long TTL survives, an expired or zero-TTL key stays
/// invisible (and the older value it hid does not come back).
pub async fn reopen_keeps_ttl<H: Harness>(h: H) -> Outcome {
    let mut cx = Ctx::new(h).await;
    require_persistent!(cx);
    require!(cx.caps.ttl, "ttl is false");
    let p = cx.partition("ttl_durable").await;
    let be = cx.backend.clone();
    be.put_with(
        &p,
        b"long",
        b"v",
        PutOptions::with_ttl(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    be.put(&p, b"hidden", b"old").await.unwrap();
    be.put_with(&p, b"hidden", b"new", PutOptions::with_ttl(Duration::ZERO))
        .await
        .unwrap();
    be.put_with(
        &p,
        b"short",
        b"v",
        PutOptions::with_ttl(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    wait_absent(&*be, &p, b"short").await;
    drop(be);
    cx.reopen().await;
    assert_eq!(cx.backend.get(&p, b"long").await.unwrap(), Some(b("v")));
    assert_eq!(
        cx.backend.get(&p, b"hidden").await.unwrap(),
        None,
        "a zero-TTL put's hidden value came back"
    );
    assert_eq!(
        cx.backend.get(&p, b"short").await.unwrap(),
        None,
        "an expired key came back"
    );
    Ok(())
}
