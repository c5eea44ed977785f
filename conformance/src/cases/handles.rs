//! Handles on one store, and the names an engine reserves ([`Facts`](crate::Facts)).

use backend_api::{Error, Partition};

use super::util::{b, scan};
use crate::{Ctx, Harness, Outcome, require};
use backend_api::ScanRange;

/// [`Facts::exclusive_open`](crate::Facts::exclusive_open): a second open of a store
/// with a live handle answers `Error::Locked`, and the first handle keeps working.
pub async fn second_open_is_locked<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(cx.facts.exclusive_open, "exclusive_open is false");
    let p = cx.partition("locked").await;
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    match cx.second_handle().await {
        Err(Error::Locked { .. }) => {}
        Err(e) => panic!("a second open of a live store: expected Locked, got {e}"),
        Ok(_) => panic!("a second open of a live store succeeded (exclusive_open is declared)"),
    }
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), Some(b("v")));
    Ok(())
}

/// Contract "Decided edges", handles see each other's partitions: a partition created
/// through one handle shows in `partition_exists` and `list_partitions` of a second
/// handle on the same store, and one dropped through the second is gone for the first.
/// Runs where a second handle shares the store (not `exclusive_open`; `persistent` or
/// `cross_process_watch`).
pub async fn second_handle_sees_partitions<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(
        cx.shares_second_handle(),
        "no second handle shares the store (exclusive_open, or neither persistent nor cross_process_watch)"
    );
    let other = match cx.second_handle().await {
        Ok(o) => o,
        Err(e) => panic!(
            "a second open failed ({e}); declare Facts::exclusive_open if the backend refuses it"
        ),
    };
    let p = cx.partition("seen_by_both").await;
    assert!(
        other.partition_exists(&p).await.unwrap(),
        "created through 1, not seen by 2"
    );
    assert!(other.list_partitions().await.unwrap().contains(&p));
    let q = Partition::new("made_by_two").unwrap();
    other.create_partition(&q).await.unwrap();
    assert!(
        cx.backend.partition_exists(&q).await.unwrap(),
        "created through 2, not seen by 1"
    );
    other.drop_partition(&p).await.unwrap();
    assert!(
        !cx.backend.partition_exists(&p).await.unwrap(),
        "dropped through 2, still seen by 1"
    );
    assert!(!cx.backend.list_partitions().await.unwrap().contains(&p));
    other.close().await.unwrap();
    Ok(())
}

/// [`Facts::reserved_partition_names`](crate::Facts::reserved_partition_names) and
/// `list_partitions`: a user partition named like one of the engine's own is either an
/// ordinary, empty, isolated partition or refused with `InvalidPartitionName`; the
/// engine's own never shows. `list_partitions` lists exactly the user's partitions in
/// name order, and (when `persistent`) still does after a reopen, data intact.
pub async fn lists_only_user_partitions<H: Harness>(h: H) -> Outcome {
    let mut cx = Ctx::new(h).await;
    let mut expected = Vec::new();
    for name in cx.facts.reserved_partition_names {
        let Ok(p) = Partition::parse(name) else {
            continue;
        };
        match cx.backend.create_partition(&p).await {
            Ok(()) => {
                assert!(
                    cx.backend.is_empty(&p).await.unwrap(),
                    "user partition {name} shows the engine's own data"
                );
                cx.backend.put(&p, b"k", name.as_bytes()).await.unwrap();
                expected.push(p);
            }
            Err(Error::InvalidPartitionName { .. }) => {}
            Err(e) => panic!("create_partition({name}): {e}"),
        }
    }
    let a = cx.partition("a").await;
    let gone = cx.partition("gone").await;
    cx.backend.put(&a, b"k", b"a").await.unwrap();
    cx.backend.drop_partition(&gone).await.unwrap();
    expected.push(a.clone());
    expected.sort();
    let check = |listed: Vec<Partition>, when: &str| {
        assert_eq!(listed, expected, "list_partitions {when}");
    };
    check(cx.backend.list_partitions().await.unwrap(), "before reopen");
    if cx.caps.persistent {
        cx.reopen().await;
        check(cx.backend.list_partitions().await.unwrap(), "after reopen");
        assert!(!cx.backend.partition_exists(&gone).await.unwrap());
    }
    for p in &expected {
        let want = if *p == a { "a" } else { p.name() };
        assert_eq!(
            scan(&*cx.backend, p, ScanRange::all()).await,
            vec![(b("k"), b(want))],
            "partition {p} is not isolated"
        );
    }
    Ok(())
}
