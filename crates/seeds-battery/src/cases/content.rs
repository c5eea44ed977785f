//! The content-addressed store and the link store.

use std::sync::Arc;

use backend_api::{Error, Partition};
use conformance::{Harness, Outcome};
use futures_util::{StreamExt, TryStreamExt};
use seeds::content::{ContentStore, Hash, LinkEvent, LinkStore};

use super::util::{backend, count, unsupported};

/// `add` answers the BLAKE3 hash of the value, `find` gives the bytes back, `mem`
/// answers presence; adding twice is idempotent (one key); the empty value works.
pub async fn content_add_find_mem<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store = ContentStore::open(b.clone(), "cas_basic").await.unwrap();
    for value in [
        &b""[..],
        b"hello",
        &[0u8, 0xFF, 0][..],
        &vec![7u8; 100_000][..],
    ] {
        let hash = store.add(value).await.unwrap();
        assert_eq!(hash, Hash::of(value));
        assert_eq!(store.add(value).await.unwrap(), hash, "add is idempotent");
        assert!(store.mem(&hash).await.unwrap());
        assert_eq!(store.find(&hash).await.unwrap().as_deref(), Some(value));
    }
    let absent = Hash::of(b"never added");
    assert!(!store.mem(&absent).await.unwrap());
    assert_eq!(store.find(&absent).await.unwrap(), None);
    assert_eq!(count(&*b, store.partition()).await, 4, "one key per value");
    Ok(())
}

/// Stored bytes that no longer match their hash (changed, truncated, emptied, or
/// another value's bytes) make `find` answer `Error::Corruption`, never the wrong bytes.
pub async fn content_find_detects_corruption<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store = ContentStore::open(b.clone(), "cas_corrupt").await.unwrap();
    let hash = store.add(b"the original value").await.unwrap();
    let p: &Partition = store.partition();
    for damaged in [
        &b"the original valuE"[..],
        b"the original",
        b"",
        b"another value entirely",
    ] {
        b.put(p, hash.as_bytes(), damaged).await.unwrap();
        match store.find(&hash).await {
            Err(Error::Corruption { detail }) => {
                assert!(detail.contains(&hash.to_string()), "{detail}")
            }
            other => panic!("damaged bytes {damaged:?}: expected Corruption, got {other:?}"),
        }
        assert!(
            store.mem(&hash).await.unwrap(),
            "mem does not read the value"
        );
    }
    Ok(())
}

/// Many tasks adding the same value at once all get its hash, and one copy is stored.
pub async fn content_concurrent_adds_of_one_value<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store = Arc::new(ContentStore::open(b.clone(), "cas_race").await.unwrap());
    let value: Arc<[u8]> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move { store.add(&value).await.expect("add") })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Hash::of(&value));
    }
    assert_eq!(count(&*b, store.partition()).await, 1);
    assert_eq!(
        store.find(&Hash::of(&value)).await.unwrap().as_deref(),
        Some(&value[..])
    );
    Ok(())
}

/// `add_batch` answers one hash per value in order, duplicates included, and stores
/// each distinct value once.
pub async fn content_add_batch<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let store = ContentStore::open(b.clone(), "cas_batch").await.unwrap();
    let values: Vec<Vec<u8>> = vec![b"a".to_vec(), b"b".to_vec(), b"a".to_vec(), vec![]];
    let hashes = store.add_batch(&values).await.unwrap();
    assert_eq!(hashes.len(), 4);
    for (h, v) in hashes.iter().zip(&values) {
        assert_eq!(*h, Hash::of(v));
        assert_eq!(store.find(h).await.unwrap().as_deref(), Some(&v[..]));
    }
    assert_eq!(count(&*b, store.partition()).await, 3);
    assert!(store.add_batch::<Vec<u8>>(&[]).await.unwrap().is_empty());
    Ok(())
}

/// Links: set, find, mem, remove, list in byte order; a stored target that is not a
/// hash is `Corruption`.
pub async fn links_set_find_remove_list<H: Harness>(h: H) -> Outcome {
    let (_cx, b) = backend(h).await;
    let links = LinkStore::open(b.clone(), "lnk_basic").await.unwrap();
    let (h1, h2) = (Hash::of(b"1"), Hash::of(b"2"));
    links.set(b"main", &h1).await.unwrap();
    links.set(b"dev", &h2).await.unwrap();
    links.set(b"main", &h2).await.unwrap();
    assert_eq!(links.find(b"main").await.unwrap(), Some(h2));
    assert!(links.mem(b"dev").await.unwrap());
    let names: Vec<_> = links.list().await.unwrap().try_collect().await.unwrap();
    assert_eq!(names, [&b"dev"[..], b"main"]);
    links.remove(b"dev").await.unwrap();
    links.remove(b"dev").await.unwrap();
    assert_eq!(links.find(b"dev").await.unwrap(), None);
    b.put(links.partition(), b"bad", b"short").await.unwrap();
    assert!(matches!(
        links.find(b"bad").await,
        Err(Error::Corruption { .. })
    ));
    Ok(())
}

/// `test_and_set` swaps only from the expected target (absent included), removes with
/// `None`, and of many racing creators exactly one wins.
pub async fn links_test_and_set<H: Harness>(h: H) -> Outcome {
    let (cx, b) = backend(h).await;
    let links = Arc::new(LinkStore::open(b.clone(), "lnk_tas").await.unwrap());
    let (h1, h2) = (Hash::of(b"1"), Hash::of(b"2"));
    if !cx.caps.compare_and_swap {
        return unsupported(
            links.test_and_set(b"x", None, Some(&h1)).await,
            "test_and_set needs compare_and_swap",
        );
    }
    assert!(links.test_and_set(b"x", None, Some(&h1)).await.unwrap());
    assert!(!links.test_and_set(b"x", None, Some(&h2)).await.unwrap());
    assert!(
        !links
            .test_and_set(b"x", Some(&h2), Some(&h1))
            .await
            .unwrap()
    );
    assert!(
        links
            .test_and_set(b"x", Some(&h1), Some(&h2))
            .await
            .unwrap()
    );
    assert!(links.test_and_set(b"x", Some(&h2), None).await.unwrap());
    assert_eq!(links.find(b"x").await.unwrap(), None);
    let tasks: Vec<_> = (0..12u8)
        .map(|i| {
            let links = links.clone();
            tokio::spawn(async move {
                let mine = Hash::of(&[i]);
                links
                    .test_and_set(b"race", None, Some(&mine))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one creator wins");
    Ok(())
}

/// `watch` reports every set and remove under its prefix, in order, as hashes.
pub async fn links_watch<H: Harness>(h: H) -> Outcome {
    let (cx, b) = backend(h).await;
    let links = LinkStore::open(b.clone(), "lnk_watch").await.unwrap();
    if !cx.caps.watch {
        return unsupported(links.watch(b"").await, "watch needs the watch capability");
    }
    let mut events = links.watch(b"br/").await.unwrap();
    let h1 = Hash::of(b"1");
    links.set(b"other", &h1).await.unwrap();
    links.set(b"br/a", &h1).await.unwrap();
    links.remove(b"br/a").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("watch event within 10 s")
            .expect("watch stream open")
            .unwrap();
        got.push(next);
    }
    let name = bytes::Bytes::from_static(b"br/a");
    assert_eq!(
        got,
        [
            LinkEvent::Set {
                name: name.clone(),
                hash: h1
            },
            LinkEvent::Removed { name }
        ]
    );
    Ok(())
}
