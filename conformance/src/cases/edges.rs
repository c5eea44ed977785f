//! The decided edges of `docs/contract.md`: error order, reads that validate, calls with
//! nothing to do, deletes of absent keys, re-created partitions.

use std::time::Duration;

use backend_api::{Bytes, Check, Operation, Partition, PutOptions, ScanRange, StorageBackend};

use super::util::{
    assert_closed, assert_invalid_key, assert_invalid_value, assert_not_found, assert_unsupported,
    b, batch_offered, conditional_offered, events_until, put_ev, range_delete_offered, scan_keys,
    try_scan, wait_absent, watch_offered,
};
use crate::{Ctx, Harness, Outcome};

/// Contract "Decided edges", order of errors: `Closed` before arguments, argument
/// errors (in argument order) before `PartitionNotFound`. An invalid key on a missing
/// partition is `InvalidKey` for every call that takes a key; a batch with a missing
/// partition in its first op and a bad key (or value) in a later one answers the key
/// (value) error; an unsupported TTL on a missing partition is `Unsupported`.
pub async fn error_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("order").await;
    let missing = Partition::new("order_missing").unwrap();
    let be = &*cx.backend;
    let empty: &[u8] = b"";
    assert_invalid_key(be.get(&missing, empty).await, "get");
    assert_invalid_key(
        be.get_many(&missing, &[b("k"), Bytes::new()]).await,
        "get_many",
    );
    assert_invalid_key(be.exists(&missing, empty).await, "exists");
    assert_invalid_key(be.put(&missing, empty, b"v").await, "put");
    assert_invalid_key(be.delete(&missing, empty).await, "delete");
    assert_invalid_key(
        try_scan(be, &missing, ScanRange::all().start(Bytes::new())).await,
        "scan with an empty start",
    );
    if cx.caps.max_value_len < (64 << 20) {
        let big = vec![0u8; cx.caps.max_value_len + 1];
        assert_invalid_value(be.put(&missing, b"k", &big).await, "put of a long value");
    }
    if !cx.caps.ttl {
        assert_unsupported(
            be.put_with(
                &missing,
                b"k",
                b"v",
                PutOptions::with_ttl(Duration::from_secs(1)),
            )
            .await,
            "put_with TTL without ttl on a missing partition",
        );
    }
    if cx.caps.compare_and_swap {
        assert_invalid_key(
            be.compare_and_swap(&missing, empty, None, Some(b"v")).await,
            "compare_and_swap",
        );
    }
    if cx.caps.watch {
        let long = vec![b'p'; cx.caps.max_key_len + 1];
        assert_invalid_key(be.watch(&missing, &long).await.map(|_| ()), "watch");
    }
    if batch_offered(be, cx.caps.atomic_batch).await && !cx.caps.cross_partition_batch {
        // The capability comes first: a batch naming two partitions is Unsupported
        // whatever else is wrong with it.
        assert_unsupported(
            be.batch(vec![
                Operation::put(&missing, "k", "v"),
                Operation::put(&p, Bytes::new(), "v"),
            ])
            .await,
            "batch across partitions without cross_partition_batch: missing partition \
             first, empty key second",
        );
    }
    if batch_offered(be, cx.caps.atomic_batch).await && cx.caps.cross_partition_batch {
        assert_invalid_key(
            be.batch(vec![
                Operation::put(&missing, "k", "v"),
                Operation::put(&p, Bytes::new(), "v"),
            ])
            .await,
            "batch: missing partition first, empty key second",
        );
        assert_invalid_key(
            be.batch(vec![
                Operation::delete(&missing, "k"),
                Operation::delete(&p, Bytes::new()),
            ])
            .await,
            "batch: missing partition first, empty delete key second",
        );
        if cx.caps.max_value_len < (64 << 20) {
            assert_invalid_value(
                be.batch(vec![
                    Operation::put(&missing, "k", "v"),
                    Operation::put(&p, "k", vec![0u8; cx.caps.max_value_len + 1]),
                ])
                .await,
                "batch: missing partition first, long value second",
            );
        }
        assert_invalid_key(
            be.batch(vec![
                Operation::put(&p, Bytes::new(), "v"),
                Operation::put(&p, "k", vec![0u8; 1]),
            ])
            .await,
            "batch: the first invalid op wins",
        );
    }
    assert!(be.is_empty(&p).await.unwrap(), "a rejected call wrote");
    be.close().await.unwrap();
    assert_closed(be.get(&missing, empty).await, "get with an empty key");
    assert_closed(be.put(&p, empty, b"v").await, "put with an empty key");
    Ok(())
}

/// Contract "Decided edges", reads validate too: `get`, `get_many` and `exists` with an
/// empty or over-long key answer `InvalidKey`; so does a scan whose given `start` or
/// `end` is not a valid key or whose prefix (or a watch's prefix) is longer than a key.
/// An empty prefix is fine.
pub async fn reads_validate_keys<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("read_keys").await;
    let be = &*cx.backend;
    be.put(&p, b"k", b"v").await.unwrap();
    let long = Bytes::from(vec![b'k'; cx.caps.max_key_len + 1]);
    for key in [Bytes::new(), long.clone()] {
        let what = format!("{}-byte key", key.len());
        assert_invalid_key(be.get(&p, &key).await, &format!("get, {what}"));
        assert_invalid_key(be.exists(&p, &key).await, &format!("exists, {what}"));
        assert_invalid_key(
            be.get_many(&p, &[b("k"), key.clone()]).await,
            &format!("get_many, {what}"),
        );
        assert_invalid_key(
            try_scan(be, &p, ScanRange::all().start(key.clone())).await,
            &format!("scan start, {what}"),
        );
        assert_invalid_key(
            try_scan(be, &p, ScanRange::all().end(key.clone())).await,
            &format!("scan end, {what}"),
        );
    }
    assert_invalid_key(
        try_scan(be, &p, ScanRange::prefix(long.clone())).await,
        "scan prefix longer than a key",
    );
    assert_eq!(
        scan_keys(be, &p, ScanRange::prefix(Bytes::new())).await,
        vec![b("k")],
        "an empty prefix means every key"
    );
    if cx.caps.watch {
        assert_invalid_key(be.watch(&p, &long).await.map(|_| ()), "watch prefix");
        let _w = be.watch(&p, b"").await.expect("watch with an empty prefix");
    }
    Ok(())
}

/// Contract "Decided edges", nothing to do is still checked: `get_many(p, &[])` on a
/// missing partition is `PartitionNotFound`; an empty batch is `Ok` and an empty
/// conditional batch `Applied` on an open handle, and after `close()` every one of
/// them answers `Closed`.
pub async fn nothing_to_do_is_still_checked<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("nothing").await;
    let missing = Partition::new("nothing_missing").unwrap();
    let be = &*cx.backend;
    assert_not_found(
        be.get_many(&missing, &[]).await,
        &missing,
        "get_many(missing, [])",
    );
    assert_eq!(
        be.get_many(&p, &[]).await.unwrap(),
        Vec::<Option<Bytes>>::new()
    );
    let batch = batch_offered(be, cx.caps.atomic_batch).await;
    let conditional = conditional_offered(be, cx.caps).await;
    if conditional {
        assert!(
            be.conditional_batch(Vec::new(), Vec::new())
                .await
                .unwrap()
                .is_applied()
        );
    }
    be.close().await.unwrap();
    assert_closed(be.get_many(&p, &[]).await, "get_many(p, [])");
    if batch {
        assert_closed(be.batch(Vec::new()).await, "empty batch");
    }
    if conditional {
        assert_closed(
            be.conditional_batch(Vec::new(), Vec::new()).await,
            "empty conditional batch",
        );
    }
    Ok(())
}

/// Contract "Decided edges", deletes of absent keys write nothing and publish nothing:
/// a plain delete, a batch delete, a CAS `(None, None)` (which answers `Swapped`), a
/// conditional-batch delete, and a delete of an expired key. A sentinel put must be
/// the watcher's first event.
pub async fn deletes_of_absent_keys_publish_nothing<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let be = &*cx.backend;
    if !watch_offered(be, cx.caps).await {
        return Err(crate::Skip("watch is false (checked: Unsupported)".into()));
    }
    let p = cx.partition("absent_deletes").await;
    if cx.caps.ttl {
        be.put_with(
            &p,
            b"expired",
            b"v",
            PutOptions::with_ttl(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        wait_absent(be, &p, b"expired").await;
    }
    let mut w = be.watch(&p, b"").await.unwrap();
    be.delete(&p, b"never").await.unwrap();
    be.delete(&p, b"expired").await.unwrap();
    if batch_offered(be, cx.caps.atomic_batch).await {
        be.batch(vec![
            Operation::delete(&p, "never"),
            Operation::delete(&p, "expired"),
        ])
        .await
        .unwrap();
    }
    if cx.caps.compare_and_swap {
        assert!(
            be.compare_and_swap(&p, b"never", None, None)
                .await
                .unwrap()
                .is_swapped(),
            "CAS(None, None) on an absent key is Swapped"
        );
    }
    if conditional_offered(be, cx.caps).await {
        assert!(
            be.conditional_batch(
                vec![Check::absent(&p, "never")],
                vec![Operation::delete(&p, "never")]
            )
            .await
            .unwrap()
            .is_applied()
        );
    }
    if range_delete_offered(be, cx.caps).await && batch_offered(be, cx.caps.atomic_batch).await {
        be.batch(vec![Operation::delete_prefix(&p, "")])
            .await
            .unwrap();
    }
    be.put(&p, b"sentinel", b"").await.unwrap();
    assert_eq!(
        events_until(&mut w, b"sentinel").await,
        vec![put_ev("sentinel", "")],
        "a delete of an absent key was published"
    );
    assert!(be.is_empty(&p).await.is_ok_and(|e| !e));
    Ok(())
}

/// Contract "Decided edges", re-created partitions are empty: after drop and create,
/// `len` (under `exact_len`) and `partition_size` are 0, `is_empty` holds, and no old
/// key shows through get, scan or a new write's neighbours.
pub async fn recreated_partition_is_empty<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("recreated").await;
    let be = &*cx.backend;
    for i in 0..200u32 {
        be.put(&p, &i.to_be_bytes(), &[1u8; 100]).await.unwrap();
    }
    be.flush().await.unwrap();
    be.drop_partition(&p).await.unwrap();
    be.create_partition(&p).await.unwrap();
    check_empty(be, &p, cx.caps.exact_len).await;
    be.put(&p, &5u32.to_be_bytes(), b"new").await.unwrap();
    assert_eq!(
        scan_keys(be, &p, ScanRange::all()).await,
        vec![b(5u32.to_be_bytes())],
        "old keys show after re-create"
    );
    Ok(())
}

async fn check_empty(be: &dyn StorageBackend, p: &Partition, exact_len: bool) {
    assert!(
        be.is_empty(p).await.unwrap(),
        "re-created partition is not empty"
    );
    if exact_len {
        assert_eq!(be.len(p).await.unwrap(), 0, "len of a re-created partition");
    }
    assert_eq!(
        be.partition_size(p).await.unwrap(),
        0,
        "partition_size of a re-created partition"
    );
    assert_eq!(be.get(p, &1u32.to_be_bytes()).await.unwrap(), None);
    assert!(scan_keys(be, p, ScanRange::all()).await.is_empty());
}
