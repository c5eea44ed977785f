//! CRDT group storage: Grove's operations, torn-free snapshots, lost-update-free merge.

use std::sync::Arc;

use backend_api::{Error, Partition};
use conformance::{Harness, Outcome};
use seeds::crdt::{GCounter, GroupStore};

use super::util::{backend, unsupported};

/// Grove's `save`, `load` (none when nothing is saved), `delete`, `list_groups` in
/// name order, and `close` (later calls answer `Closed`).
pub async fn crdt_save_load_delete_list_close<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store: GroupStore<GCounter> = GroupStore::open(b, "grove_ops").await.unwrap();
    assert_eq!(store.load("counter/views").await.unwrap(), None);
    let mut a = GCounter::default();
    a.increment("a", 3);
    store.save("counter/views", &a).await.unwrap();
    store.save("set/tags", &GCounter::default()).await.unwrap();
    assert_eq!(store.load("counter/views").await.unwrap(), Some(a));
    assert_eq!(
        store.list_groups().await.unwrap(),
        ["counter/views", "set/tags"]
    );
    store.delete("set/tags").await.unwrap();
    store.delete("set/tags").await.unwrap();
    assert_eq!(store.list_groups().await.unwrap(), ["counter/views"]);
    store.close().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.load("counter/views").await,
        Err(Error::Closed)
    ));
    Ok(())
}

/// Many tasks each increment their own replica's count through `merge`, concurrently,
/// on one group: the stored counter ends exactly at the sum (no update lost).
pub async fn crdt_merge_loses_no_update<H: Harness>(h: H) -> Outcome {
    let (cx, b) = backend(h).await;
    let store: Arc<GroupStore<GCounter>> =
        Arc::new(GroupStore::open(b, "grove_merge").await.unwrap());
    if !cx.caps.compare_and_swap {
        return unsupported(
            store.merge("g", &GCounter::default(), GCounter::join).await,
            "merge needs compare_and_swap",
        );
    }
    let (tasks, increments) = (8u64, 25u64);
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut local = GCounter::default();
                for _ in 0..increments {
                    local.increment(&format!("replica{t}"), 1);
                    store
                        .merge("counter", &local, GCounter::join)
                        .await
                        .expect("merge");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let total = store.load("counter").await.unwrap().unwrap().value();
    assert_eq!(total, tasks * increments);
    Ok(())
}

/// Two handles on one store (backends whose handles share a store and see each
/// other's writes) merging into one group lose no update either.
pub async fn crdt_merge_across_two_handles<H: Harness>(h: H) -> Outcome {
    let (cx, b) = backend(h).await;
    conformance::require!(
        cx.caps.compare_and_swap && cx.caps.cross_process_watch,
        "two live handles on one store need compare_and_swap and a shared server (cross_process_watch)"
    );
    let other = cx.second_handle().await.expect("second handle");
    let stores: Vec<Arc<GroupStore<GCounter>>> = vec![
        Arc::new(GroupStore::open(b, "grove_two").await.unwrap()),
        Arc::new(GroupStore::open(other, "grove_two").await.unwrap()),
    ];
    let handles: Vec<_> = (0..6u64)
        .map(|t| {
            let store = stores[(t % 2) as usize].clone();
            tokio::spawn(async move {
                let mut local = GCounter::default();
                for _ in 0..20 {
                    local.increment(&format!("r{t}"), 1);
                    store
                        .merge("c", &local, GCounter::join)
                        .await
                        .expect("merge");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    for store in &stores {
        assert_eq!(store.load("c").await.unwrap().unwrap().value(), 120);
    }
    Ok(())
}

/// A reader loading while a writer saves large states sees each state whole (every
/// element equal to the state's generation), never a mix of two.
pub async fn crdt_snapshots_never_tear<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store: Arc<GroupStore<Vec<u64>>> =
        Arc::new(GroupStore::open(b, "grove_tear").await.unwrap());
    store.save("g", &vec![0; 8192]).await.unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for generation in 1..=60u64 {
                store
                    .save("g", &vec![generation; 8192])
                    .await
                    .expect("save");
            }
        })
    };
    let mut loads = 0;
    while !writer.is_finished() || loads == 0 {
        let state = store.load("g").await.unwrap().expect("saved");
        assert_eq!(state.len(), 8192);
        assert!(state.iter().all(|x| *x == state[0]), "a torn snapshot");
        loads += 1;
    }
    writer.await.unwrap();
    assert_eq!(store.load("g").await.unwrap().unwrap()[0], 60);
    Ok(())
}

/// A stored record of an unknown codec version, or bytes that do not decode as the
/// state type, answer `Corruption` naming the group, never a wrong state.
pub async fn crdt_bad_records_are_corruption<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store: GroupStore<GCounter> = GroupStore::open(b.clone(), "grove_bad").await.unwrap();
    let p = Partition::new("grove_bad_crdt").unwrap();
    for raw in [&[9u8, 0][..], &[], &[1, 5, 0xFF]] {
        b.put(&p, b"g", raw).await.unwrap();
        match store.load("g").await {
            Err(Error::Corruption { detail }) => assert!(detail.contains("\"g\""), "{detail}"),
            other => panic!("record {raw:?}: expected Corruption, got {other:?}"),
        }
    }
    Ok(())
}

/// On a persistent backend, saved states survive close and reopen.
pub async fn crdt_survives_reopen<H: Harness>(h: H) -> Outcome {
    let (mut cx, b) = backend(h).await;
    conformance::require!(cx.caps.persistent, "needs a persistent backend");
    let mut state = GCounter::default();
    state.increment("x", 9);
    GroupStore::open(b, "grove_keep")
        .await
        .unwrap()
        .save("g", &state)
        .await
        .unwrap();
    cx.reopen().await;
    let store: GroupStore<GCounter> = GroupStore::open(cx.backend.clone(), "grove_keep")
        .await
        .unwrap();
    assert_eq!(store.load("g").await.unwrap(), Some(state));
    Ok(())
}
