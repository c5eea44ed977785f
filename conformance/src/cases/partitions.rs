//! Partition management: create, drop, list, names, isolation, missing partitions.

use std::time::Duration;

use backend_api::{Bytes, Error, Operation, Partition, PutOptions, ScanRange};
use futures_util::StreamExt;

use super::util::{assert_not_found, b, batch_offered, scan, scan_keys, unless_refused_across};
use crate::{Ctx, Harness, Outcome};

/// Contract row "create_partition": idempotent. Creating twice is Ok, the partition
/// exists and is listed once, and its data survives the second create.
pub async fn create_partition_is_idempotent<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("things").await;
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    cx.backend
        .create_partition(&p)
        .await
        .expect("second create is Ok");
    assert!(cx.backend.partition_exists(&p).await.unwrap());
    let listed = cx.backend.list_partitions().await.unwrap();
    assert_eq!(
        listed.iter().filter(|x| **x == p).count(),
        1,
        "listed once: {listed:?}"
    );
    assert_eq!(
        cx.backend.get(&p, b"k").await.unwrap(),
        Some(b("v")),
        "re-create keeps data"
    );
    Ok(())
}

/// Contract row "partition name": every invalid name (`""`, `.`, `..`, `a/b`, `a:b`, `*`,
/// 65 characters, non-ASCII, space, reserved `sys_`) is refused by `Partition::new`
/// before any I/O, with `Error::InvalidPartitionName`.
pub async fn bad_partition_names_are_rejected<H: Harness>(_h: H) -> Outcome {
    let long = "a".repeat(65);
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "a:b",
        "*",
        "é",
        "ü_x",
        "a b",
        "a\0",
        long.as_str(),
        "sys_x",
    ] {
        assert!(
            matches!(Partition::new(bad), Err(Error::InvalidPartitionName { .. })),
            "{bad:?} must be rejected"
        );
    }
    Ok(())
}

/// Contract row "partition name": a 64-character name and a `Partition::system` name are
/// valid partitions like any other (create, put, get, list).
pub async fn long_and_system_partition_names_work<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let long = Partition::new("Z".repeat(64)).unwrap();
    let sys = Partition::system("meta").unwrap();
    for p in [&long, &sys] {
        cx.backend.create_partition(p).await.unwrap();
        cx.backend.put(p, b"k", p.name().as_bytes()).await.unwrap();
    }
    for p in [&long, &sys] {
        assert_eq!(cx.backend.get(p, b"k").await.unwrap(), Some(b(p.name())));
    }
    let listed = cx.backend.list_partitions().await.unwrap();
    assert!(
        listed.contains(&long) && listed.contains(&sys),
        "{listed:?}"
    );
    Ok(())
}

/// Contract row "partition name": names are case-sensitive; `Data` and `data` are two
/// isolated partitions.
pub async fn partition_names_are_case_sensitive<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let upper = cx.partition("Data").await;
    assert!(
        !cx.backend
            .partition_exists(&Partition::new("data").unwrap())
            .await
            .unwrap(),
        "creating Data must not create data"
    );
    let lower = cx.partition("data").await;
    cx.backend.put(&upper, b"k", b"upper").await.unwrap();
    cx.backend.put(&lower, b"k", b"lower").await.unwrap();
    assert_eq!(
        cx.backend.get(&upper, b"k").await.unwrap(),
        Some(b("upper"))
    );
    assert_eq!(
        cx.backend.get(&lower, b"k").await.unwrap(),
        Some(b("lower"))
    );
    Ok(())
}

/// Contract row "Model: partitions are isolated": the same keys in two partitions hold
/// their own values; scans, deletes, len and drop of one never touch the other.
pub async fn partitions_are_isolated<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let a = cx.partition("iso_a").await;
    let bp = cx.partition("iso_b").await;
    // Names that are prefixes of each other catch prefix-based namespacing bugs.
    let ab = cx.partition("iso_a_b").await;
    for (p, tag) in [(&a, "a"), (&bp, "b"), (&ab, "ab")] {
        for k in ["k1", "k2", "k3"] {
            cx.backend
                .put(p, k.as_bytes(), tag.as_bytes())
                .await
                .unwrap();
        }
    }
    cx.backend.put(&a, b"only_a", b"a").await.unwrap();
    cx.backend.delete(&bp, b"k2").await.unwrap();
    assert_eq!(cx.backend.get(&a, b"k2").await.unwrap(), Some(b("a")));
    assert_eq!(cx.backend.get(&ab, b"k2").await.unwrap(), Some(b("ab")));
    assert_eq!(cx.backend.get(&bp, b"only_a").await.unwrap(), None);
    assert!(!cx.backend.exists(&ab, b"only_a").await.unwrap());
    let a_pairs = scan(&*cx.backend, &a, ScanRange::all()).await;
    assert_eq!(a_pairs.len(), 4, "{a_pairs:?}");
    assert!(
        a_pairs.iter().all(|(_, v)| v == "a"),
        "scan of a shows another partition: {a_pairs:?}"
    );
    let b_keys = scan_keys(&*cx.backend, &bp, ScanRange::all()).await;
    assert_eq!(b_keys, vec![b("k1"), b("k3")]);
    assert_eq!(
        scan_keys(&*cx.backend, &ab, ScanRange::prefix("k"))
            .await
            .len(),
        3
    );
    cx.backend.drop_partition(&a).await.unwrap();
    assert_eq!(cx.backend.get(&ab, b"k1").await.unwrap(), Some(b("ab")));
    assert_eq!(cx.backend.get(&bp, b"k1").await.unwrap(), Some(b("b")));
    Ok(())
}

/// Contract row "drop_partition": removes the data and the partition. Afterwards it
/// does not exist, is not listed, data calls answer `PartitionNotFound`, and creating it
/// again gives an empty partition.
pub async fn drop_partition_removes_data<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("doomed").await;
    for i in 0..50u32 {
        cx.backend.put(&p, &i.to_be_bytes(), b"v").await.unwrap();
    }
    cx.backend.drop_partition(&p).await.expect("drop");
    assert!(!cx.backend.partition_exists(&p).await.unwrap());
    assert!(!cx.backend.list_partitions().await.unwrap().contains(&p));
    assert_not_found(
        cx.backend.get(&p, &0u32.to_be_bytes()).await,
        &p,
        "get after drop",
    );
    cx.backend.create_partition(&p).await.unwrap();
    assert!(
        cx.backend.is_empty(&p).await.unwrap(),
        "a re-created partition starts empty"
    );
    assert_eq!(cx.backend.get(&p, &7u32.to_be_bytes()).await.unwrap(), None);
    assert!(scan(&*cx.backend, &p, ScanRange::all()).await.is_empty());
    cx.backend.put(&p, b"new", b"1").await.unwrap();
    assert_eq!(
        scan_keys(&*cx.backend, &p, ScanRange::all()).await,
        vec![b("new")]
    );
    Ok(())
}

/// Contract row "drop_partition": dropping a partition that does not exist (never
/// created, or already dropped) is `PartitionNotFound`.
pub async fn drop_missing_partition_is_not_found<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let never = Partition::new("never_made").unwrap();
    assert_not_found(
        cx.backend.drop_partition(&never).await,
        &never,
        "drop_partition",
    );
    let p = cx.partition("once").await;
    cx.backend.drop_partition(&p).await.unwrap();
    assert_not_found(
        cx.backend.drop_partition(&p).await,
        &p,
        "second drop_partition",
    );
    Ok(())
}

/// Contract row "list_partitions": every partition, in name order, each once; dropped
/// ones disappear.
pub async fn list_partitions_in_name_order<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let names = ["lp_c", "lp_a", "lp_B", "lp_b", "lp_a1"];
    for n in names {
        cx.partition(n).await;
    }
    let mine = |all: Vec<Partition>| -> Vec<String> {
        all.into_iter()
            .filter(|p| p.name().starts_with("lp_"))
            .map(|p| p.name().to_owned())
            .collect()
    };
    let all = cx.backend.list_partitions().await.unwrap();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "list_partitions is in name order");
    assert_eq!(mine(all), vec!["lp_B", "lp_a", "lp_a1", "lp_b", "lp_c"]);
    cx.backend
        .drop_partition(&Partition::new("lp_a").unwrap())
        .await
        .unwrap();
    let all = cx.backend.list_partitions().await.unwrap();
    assert_eq!(mine(all), vec!["lp_B", "lp_a1", "lp_b", "lp_c"]);
    Ok(())
}

/// Contract row "missing partition": every data operation on a partition that was never
/// created or was dropped answers `PartitionNotFound(name)`: get, get_many, exists, put,
/// put_with, delete, scan, batch, compare_and_swap, watch, partition_size, len,
/// is_empty, compact (the optional ones may answer `Unsupported` instead when their
/// capability is false). A batch touching one is refused whole.
pub async fn data_ops_on_missing_partition_are_not_found<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let dropped = cx.partition("dropped").await;
    cx.backend.put(&dropped, b"k", b"v").await.unwrap();
    cx.backend.drop_partition(&dropped).await.unwrap();
    let live = cx.partition("live").await;
    let caps = cx.caps;
    let be = &*cx.backend;
    for p in [Partition::new("never").unwrap(), dropped] {
        let p = &p;
        assert_not_found(be.get(p, b"k").await, p, "get");
        assert_not_found(be.get_many(p, &[b("k"), b("j")]).await, p, "get_many");
        assert_not_found(be.exists(p, b"k").await, p, "exists");
        assert_not_found(be.put(p, b"k", b"v").await, p, "put");
        assert_not_found(
            be.put_with(p, b"k", b"v", PutOptions::default()).await,
            p,
            "put_with",
        );
        assert_not_found(be.delete(p, b"k").await, p, "delete");
        match be.scan(p, ScanRange::all()).await {
            Err(e) => assert_not_found::<()>(Err(e), p, "scan"),
            Ok(mut s) => match s.next().await {
                Some(Err(e)) => assert_not_found::<()>(Err(e), p, "scan stream"),
                other => panic!(
                    "scan on missing partition {p}: expected PartitionNotFound, got {other:?}"
                ),
            },
        }
        assert_not_found(be.partition_size(p).await, p, "partition_size");
        assert_not_found(be.len(p).await, p, "len");
        assert_not_found(be.is_empty(p).await, p, "is_empty");
        if caps.ttl {
            assert_not_found(
                be.put_with(p, b"k", b"v", PutOptions::with_ttl(Duration::from_secs(60)))
                    .await,
                p,
                "put_with ttl",
            );
        }
        if caps.compare_and_swap {
            assert_not_found(
                be.compare_and_swap(p, b"k", None, Some(b"v")).await,
                p,
                "compare_and_swap",
            );
        }
        if caps.watch {
            assert_not_found(be.watch(p, b"").await.map(|_| ()), p, "watch");
        }
        if caps.compact {
            assert_not_found(be.compact(p).await, p, "compact");
        }
        if batch_offered(be, caps.atomic_batch).await {
            let ops = vec![Operation::put(&live, "x", "1"), Operation::put(p, "k", "v")];
            if let Some(r) = unless_refused_across(caps, be.batch(ops).await, "batch") {
                assert_not_found(r, p, "batch");
            }
            assert_eq!(
                be.get(&live, b"x").await.unwrap(),
                None,
                "a refused batch wrote its first op"
            );
        }
    }
    assert_eq!(be.get(&live, b"k").await.unwrap(), None::<Bytes>);
    Ok(())
}
