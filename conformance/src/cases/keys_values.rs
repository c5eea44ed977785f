//! Keys and values: binary keys, length limits, point reads and writes.

use backend_api::{Bytes, PutOptions, ScanRange};

use super::util::{assert_invalid_key, assert_invalid_value, b, scan, scan_keys};
use crate::{Ctx, Harness, Outcome};

/// Largest limit the battery tests exactly; above it, it tests a value this large and
/// skips the one-past check (a 1 GiB write would only test the machine).
const LIMIT_CAP: usize = 64 << 20;

/// Contract rows "get" and "put": a put is visible to the next get on the same handle; a
/// second put overwrites; a delete removes.
pub async fn put_get_overwrite<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("kv").await;
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), None);
    cx.backend.put(&p, b"k", b"one").await.unwrap();
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), Some(b("one")));
    cx.backend.put(&p, b"k", b"two").await.unwrap();
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), Some(b("two")));
    cx.backend
        .put_with(&p, b"k", b"three", PutOptions::default())
        .await
        .unwrap();
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), Some(b("three")));
    cx.backend.delete(&p, b"k").await.unwrap();
    assert_eq!(cx.backend.get(&p, b"k").await.unwrap(), None);
    let all = vec![0u8, 1, 0xFF, b'\n', b'\r', b'"', b'\\', 0x80];
    cx.backend.put(&p, b"bin", &all).await.unwrap();
    assert_eq!(
        cx.backend.get(&p, b"bin").await.unwrap(),
        Some(b(&all)),
        "values are any bytes"
    );
    Ok(())
}

/// The binary keys of [`binary_keys_round_trip`], in byte order.
pub(crate) fn binary_keys() -> Vec<Bytes> {
    let long = vec![0xABu8; 200];
    let with = |tail: &[u8]| {
        let mut k = long.clone();
        k.extend_from_slice(tail);
        b(k)
    };
    let mut keys = vec![
        b([0x00]),
        b([0x00, 0x00]),
        b([0x00, 0xFF]),
        b([0x01]),
        b("a"),
        b([b'a', 0x00]),
        b([b'a', 0xFF]),
        b([b'a', 0xFF, 0xFF]),
        b("ab"),
        b([0x7F]),
        b([0x80]),
        with(&[]),
        with(&[0x00]),
        with(&[0x01]),
        with(&[0xFF]),
        b([0xFF]),
        b([0xFF, 0x00]),
        b([0xFF, 0xFF]),
        b([0xFF, 0xFF, 0xFF]),
    ];
    keys.sort();
    keys
}

/// Contract rows "key" and "order": any bytes are a key (0x00, 0xFF, a 200-byte shared
/// prefix, keys that are prefixes of others); each round-trips and is distinct, and a
/// scan returns them in unsigned byte order, shortest first on a shared prefix.
pub async fn binary_keys_round_trip<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("bin").await;
    let keys = binary_keys();
    // Write in reverse so insertion order cannot pass for byte order.
    for (i, k) in keys.iter().enumerate().rev() {
        cx.backend
            .put(&p, k, &(i as u32).to_be_bytes())
            .await
            .unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            cx.backend.get(&p, k).await.unwrap(),
            Some(b((i as u32).to_be_bytes())),
            "key {k:?}"
        );
    }
    let scanned = scan_keys(&*cx.backend, &p, ScanRange::all()).await;
    if cx.caps.ordered_scan {
        assert_eq!(scanned, keys, "scan is in unsigned byte order");
    } else {
        let mut sorted = scanned.clone();
        sorted.sort();
        assert_eq!(sorted, keys);
    }
    Ok(())
}

/// Contract row "key": 1 to `max_key_len` bytes. A key of exactly `max_key_len` works;
/// one byte longer and the empty key are `InvalidKey` for put, put_with and delete, and
/// nothing is written. (Reads of an invalid key may answer `InvalidKey` or nothing.)
pub async fn key_length_limits<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("klim").await;
    let max = cx.caps.max_key_len;
    assert!(max >= 1, "max_key_len must be at least 1");
    assert_invalid_key(cx.backend.put(&p, b"", b"v").await, "put of an empty key");
    assert_invalid_key(
        cx.backend
            .put_with(&p, b"", b"v", PutOptions::default())
            .await,
        "put_with of an empty key",
    );
    assert_invalid_key(cx.backend.delete(&p, b"").await, "delete of an empty key");
    let reads = cx.backend.get(&p, b"").await;
    assert!(
        matches!(reads, Ok(None) | Err(backend_api::Error::InvalidKey { .. })),
        "get of an empty key: {reads:?}"
    );
    let at = vec![0xA5u8; max.min(LIMIT_CAP)];
    cx.backend
        .put(&p, &at, b"v")
        .await
        .expect("a key of max_key_len bytes is valid");
    assert_eq!(cx.backend.get(&p, &at).await.unwrap(), Some(b("v")));
    if max < LIMIT_CAP {
        let over = vec![0xA5u8; max + 1];
        assert_invalid_key(
            cx.backend.put(&p, &over, b"v").await,
            "put of a key one byte too long",
        );
        assert_invalid_key(
            cx.backend.delete(&p, &over).await,
            "delete of a key one byte too long",
        );
        let got = cx.backend.get(&p, &over).await;
        assert!(
            matches!(got, Ok(None) | Err(backend_api::Error::InvalidKey { .. })),
            "get of a too-long key: {got:?}"
        );
    }
    let keys = scan_keys(&*cx.backend, &p, ScanRange::all()).await;
    assert_eq!(keys, vec![b(&at)], "only the valid key was written");
    Ok(())
}

/// Contract row "value": 0 to `max_value_len` bytes. A value of exactly `max_value_len`
/// works; one byte longer is `InvalidValue` and leaves the old value in place.
pub async fn value_length_limits<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("vlim").await;
    let max = cx.caps.max_value_len;
    let at = vec![0x5Au8; max.min(LIMIT_CAP)];
    cx.backend.put(&p, b"k", b"old").await.unwrap();
    if max < LIMIT_CAP {
        let over = vec![0x5Au8; max + 1];
        assert_invalid_value(
            cx.backend.put(&p, b"k", &over).await,
            "put of a value one byte too long",
        );
        assert_invalid_value(
            cx.backend.put(&p, b"new", &over).await,
            "put of a value one byte too long",
        );
        assert_eq!(
            cx.backend.get(&p, b"k").await.unwrap(),
            Some(b("old")),
            "a refused put wrote"
        );
        assert_eq!(
            cx.backend.get(&p, b"new").await.unwrap(),
            None,
            "a refused put wrote"
        );
    }
    cx.backend
        .put(&p, b"k", &at)
        .await
        .expect("a value of max_value_len bytes is valid");
    let got = cx
        .backend
        .get(&p, b"k")
        .await
        .unwrap()
        .expect("the big value");
    assert!(
        got.len() == at.len() && got[..] == at[..],
        "the big value round-trips"
    );
    Ok(())
}

/// Contract row "value": the empty value is a value: get returns `Some(empty)`, exists
/// is true, scan lists the key, and it differs from absence.
pub async fn empty_value_is_allowed<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("empty").await;
    cx.backend
        .put(&p, b"e", b"")
        .await
        .expect("empty values are allowed");
    assert_eq!(cx.backend.get(&p, b"e").await.unwrap(), Some(Bytes::new()));
    assert!(cx.backend.exists(&p, b"e").await.unwrap());
    assert_eq!(
        scan(&*cx.backend, &p, ScanRange::all()).await,
        vec![(b("e"), Bytes::new())]
    );
    assert!(!cx.backend.is_empty(&p).await.unwrap());
    Ok(())
}

/// Contract row "get_many": one answer per key, in the order asked, `None` for missing
/// keys, duplicates answered twice, an empty request answered empty.
pub async fn get_many_keeps_order_and_missing<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("many").await;
    cx.backend.put(&p, b"a", b"1").await.unwrap();
    cx.backend.put(&p, b"c", b"3").await.unwrap();
    cx.backend.put(&p, &[0xFF], b"ff").await.unwrap();
    cx.backend.put(&p, b"z", b"").await.unwrap();
    let ask = vec![b("c"), b("b"), b([0xFF]), b("a"), b("c"), b("z"), b([0x00])];
    let got = cx.backend.get_many(&p, &ask).await.unwrap();
    assert_eq!(
        got,
        vec![
            Some(b("3")),
            None,
            Some(b("ff")),
            Some(b("1")),
            Some(b("3")),
            Some(Bytes::new()),
            None
        ]
    );
    assert_eq!(
        cx.backend.get_many(&p, &[]).await.unwrap(),
        Vec::<Option<Bytes>>::new()
    );
    Ok(())
}

/// Contract row "exists": true exactly while the key has a value (including an empty
/// one).
pub async fn exists_follows_puts_and_deletes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("ex").await;
    assert!(!cx.backend.exists(&p, b"k").await.unwrap());
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    assert!(cx.backend.exists(&p, b"k").await.unwrap());
    assert!(
        !cx.backend.exists(&p, b"k\0").await.unwrap(),
        "a longer key is another key"
    );
    assert!(!cx.backend.exists(&p, b"K").await.unwrap());
    cx.backend.delete(&p, b"k").await.unwrap();
    assert!(!cx.backend.exists(&p, b"k").await.unwrap());
    Ok(())
}

/// Contract row "delete of a missing key": Ok, a no-op, also twice and on an empty
/// partition; other keys are untouched.
pub async fn delete_missing_key_is_ok<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("del").await;
    cx.backend
        .delete(&p, b"nothing")
        .await
        .expect("delete of a missing key is Ok");
    cx.backend.put(&p, b"k", b"v").await.unwrap();
    cx.backend.delete(&p, b"k").await.unwrap();
    cx.backend
        .delete(&p, b"k")
        .await
        .expect("second delete is Ok");
    cx.backend.put(&p, b"keep", b"v").await.unwrap();
    cx.backend
        .delete(&p, b"kee")
        .await
        .expect("delete of a missing prefix key is Ok");
    assert_eq!(cx.backend.get(&p, b"keep").await.unwrap(), Some(b("v")));
    Ok(())
}

/// Contract row "put" (acknowledged = visible): 8 tasks writing 200 distinct keys each
/// at the same time on one handle lose nothing; every key reads back its own value.
pub async fn concurrent_puts_are_all_kept<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    let p = cx.partition("concurrent").await;
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let backend = cx.backend.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..200u16 {
                let key = [&[t][..], &i.to_be_bytes()[..]].concat();
                backend.put(&p, &key, &[t; 64]).await.unwrap();
                assert_eq!(
                    backend.get(&p, &key).await.unwrap(),
                    Some(b([t; 64])),
                    "own write not visible"
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    let pairs = scan(&*cx.backend, &p, ScanRange::all()).await;
    assert_eq!(pairs.len(), 1600, "concurrent puts were lost");
    assert!(
        pairs.iter().all(|(k, v)| v[..] == [k[0]; 64]),
        "a value landed under another key"
    );
    if cx.caps.exact_len {
        assert_eq!(cx.backend.len(&p).await.unwrap(), 1600);
    }
    Ok(())
}
