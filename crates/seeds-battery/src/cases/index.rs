//! Secondary indexes: queries, pages, specs, concurrent writers, unsupported backends.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use conformance::{Harness, Outcome};
use futures_util::TryStreamExt;
use seeds::index::{Continuation, Hit, IndexEntry, IndexSpec, IndexedStore, Query, Term};

use super::util::{backend, unsupported};

/// Opens the bucket, or skips (after checking `Unsupported`) on a backend without
/// `conditional_batch` or `ordered_scan`.
pub(crate) async fn open<H: Harness>(
    h: H,
    bucket: &str,
) -> Result<(conformance::Ctx<H>, IndexedStore), conformance::Skip> {
    let (cx, b) = backend(h).await;
    if !(cx.caps.conditional_batch && cx.caps.ordered_scan) {
        unsupported(
            IndexedStore::open(b.clone(), bucket).await,
            "secondary indexes need conditional_batch and ordered_scan",
        )?;
    }
    let store = IndexedStore::open(b, bucket)
        .await
        .expect("open the bucket");
    Ok((cx, store))
}

/// Every page of `query`, following continuations to the end.
pub(crate) async fn all_pages(store: &IndexedStore, query: &Query) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut q = query.clone();
    loop {
        let page = store.query(&q).await.expect("query");
        if let Some(n) = q.page_size() {
            assert!(
                page.hits.len() <= n,
                "a page holds at most max_results hits"
            );
            if page.continuation.is_some() {
                assert_eq!(page.hits.len(), n, "only a full page has a continuation");
            }
        }
        hits.extend(page.hits);
        match page.continuation {
            Some(c) => q = query.clone().continuation(c),
            None => return hits,
        }
    }
}

fn keys(hits: &[Hit]) -> Vec<&[u8]> {
    hits.iter().map(|h| &h.key[..]).collect()
}

/// Equality, inclusive term ranges over signed integers and binary terms (0x00 and
/// 0xFF bytes included), `$key` ranges and `$bucket`: results in term-then-key order,
/// terms returned only when asked.
pub async fn index_queries_in_term_then_key_order<H: Harness>(h: H) -> Outcome {
    let (_cx, store) = open(h, "idx_q").await?;
    let objects: [(&[u8], i64, &[u8]); 6] = [
        (b"k1", -7, b"a\0"),
        (b"k2", 3, b"a"),
        (b"k3", -7, b"\xff"),
        (b"k\0", i64::MIN, b""),
        (b"k\xff", i64::MAX, b"a\xff"),
        (b"k0", 3, b"a"),
    ];
    for (key, n, bin) in objects {
        let entries = [IndexEntry::new("n_int", n), IndexEntry::new("b_bin", bin)];
        store.put_entries(key, b"v", &entries).await.unwrap();
    }
    let eq = store.query(&Query::eq("n_int", -7i64)).await.unwrap();
    assert_eq!(keys(&eq.hits), [&b"k1"[..], b"k3"]);
    assert!(eq.hits.iter().all(|h| h.term.is_none()));
    assert!(eq.continuation.is_none());

    let range = Query::range("n_int", i64::MIN, 3i64).return_terms();
    let hits = store.query(&range).await.unwrap().hits;
    let got: Vec<(Term, &[u8])> = hits
        .iter()
        .map(|h| (h.term.clone().unwrap(), &h.key[..]))
        .collect();
    let want: Vec<(Term, &[u8])> = vec![
        (Term::Int(i64::MIN), b"k\0"),
        (Term::Int(-7), b"k1"),
        (Term::Int(-7), b"k3"),
        (Term::Int(3), b"k0"),
        (Term::Int(3), b"k2"),
    ];
    assert_eq!(got, want);

    let bins = store
        .query(&Query::range("b_bin", "", Term::bin(b"a\xff")))
        .await
        .unwrap();
    assert_eq!(
        keys(&bins.hits),
        [&b"k\0"[..], b"k0", b"k2", b"k1", b"k\xff"],
        "binary terms: \"\" < a < a\\0 < a\\xff; keys within a term"
    );

    let by_key = store
        .query(&Query::keys(&b"k0"[..], &b"k2"[..]).return_terms())
        .await
        .unwrap();
    assert_eq!(
        keys(&by_key.hits),
        [&b"k0"[..], b"k1", b"k2"],
        "$key is inclusive"
    );
    assert_eq!(by_key.hits[0].term, Some(Term::bin(b"k0")));
    let every = store.query(&Query::all_keys()).await.unwrap();
    assert_eq!(every.hits.len(), 6);
    assert!(
        store
            .query(&Query::eq("missing_int", 1i64))
            .await
            .unwrap()
            .hits
            .is_empty()
    );
    Ok(())
}

/// Pages of `max_results` carry a continuation that resumes exactly after the last
/// result: concatenated pages equal the unpaged result, with nothing repeated or
/// skipped, for every page size; the last page has none; a continuation survives a
/// round trip through its bytes, and a foreign token is refused.
pub async fn index_pages_resume_exactly<H: Harness>(h: H) -> Outcome {
    let (_cx, store) = open(h, "idx_pages").await?;
    for i in 0..60u32 {
        let key = format!("obj{:03}", 59 - i);
        let term = i64::from(i % 7) - 3;
        store
            .put_entries(key.as_bytes(), b"", &[IndexEntry::new("t_int", term)])
            .await
            .unwrap();
    }
    let full = Query::range("t_int", -3i64, 3i64);
    let everything = all_pages(&store, &full).await;
    assert_eq!(everything.len(), 60);
    for n in [1, 2, 7, 59, 60, 61] {
        let paged = all_pages(&store, &full.clone().max_results(n)).await;
        assert_eq!(paged, everything, "pages of {n}");
        let keys = all_pages(&store, &Query::all_keys().max_results(n)).await;
        assert_eq!(keys.len(), 60, "$bucket pages of {n}");
    }
    let first = store.query(&full.clone().max_results(10)).await.unwrap();
    let token = first.continuation.expect("a full page continues");
    let back = Continuation::from_bytes(token.as_bytes().clone()).unwrap();
    let second = store.query(&full.clone().continuation(back)).await.unwrap();
    assert_eq!(second.hits[..], everything[10..]);
    assert!(Continuation::from_bytes(Bytes::from_static(b"nonsense")).is_err());
    let keys_token = store
        .query(&Query::all_keys().max_results(1))
        .await
        .unwrap()
        .continuation
        .unwrap();
    assert!(
        store
            .query(&full.clone().continuation(keys_token))
            .await
            .is_err(),
        "a $key continuation on a term query is refused"
    );
    Ok(())
}

/// Riak's index specs add and remove entries relative to the stored object; a delete
/// removes the object and every entry; an extractor derives entries from each put.
pub async fn index_specs_deletes_and_extractor<H: Harness>(h: H) -> Outcome {
    let (_cx, store) = open(h, "idx_specs").await?;
    let a = IndexEntry::new("tag_bin", "a");
    let b = IndexEntry::new("tag_bin", "b");
    store
        .put_specs(
            b"x",
            b"1",
            &[IndexSpec::Add(a.clone()), IndexSpec::Add(b.clone())],
        )
        .await
        .unwrap();
    store
        .put_specs(b"x", b"2", &[IndexSpec::Remove(a.clone())])
        .await
        .unwrap();
    let (value, entries) = store.get_with_entries(b"x").await.unwrap().unwrap();
    assert_eq!((&value[..], entries), (&b"2"[..], vec![b.clone()]));
    assert!(
        store
            .query(&Query::eq("tag_bin", "a"))
            .await
            .unwrap()
            .hits
            .is_empty()
    );
    store.delete(b"x").await.unwrap();
    store.delete(b"x").await.unwrap();
    assert_eq!(store.get(b"x").await.unwrap(), None);
    assert!(
        store
            .query(&Query::eq("tag_bin", "b"))
            .await
            .unwrap()
            .hits
            .is_empty()
    );

    let extracting = store
        .clone()
        .with_extractor(|v| vec![IndexEntry::new("len_int", v.len() as i64)]);
    extracting.put(b"y", b"four").await.unwrap();
    extracting.put(b"y", b"fives").await.unwrap();
    let hits = store
        .query(&Query::range("len_int", 0i64, 10i64).return_terms())
        .await
        .unwrap()
        .hits;
    assert_eq!(hits.len(), 1, "the old extracted entry is gone");
    assert_eq!(hits[0].term, Some(Term::Int(5)));
    Ok(())
}

/// A query of thousands of results streams in order (one backend scan, decoded as it
/// goes), and `max_results` bounds the stream too.
pub async fn index_large_results_stream_in_order<H: Harness>(h: H) -> Outcome {
    let (_cx, store) = open(h, "idx_large").await?;
    for i in 0..2000i64 {
        let key = format!("{:05}", (i * 7919) % 2000);
        store
            .put_entries(key.as_bytes(), b"", &[IndexEntry::new("all_int", i % 3)])
            .await
            .unwrap();
    }
    let q = Query::range("all_int", 0i64, 2i64).return_terms();
    let hits: Vec<Hit> = store
        .query_stream(&q)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(hits.len(), 2000);
    assert!(
        hits.windows(2)
            .all(|w| (&w[0].term, &w[0].key) < (&w[1].term, &w[1].key))
    );
    let limited: Vec<Hit> = store
        .query_stream(&q.clone().max_results(5))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(limited[..], hits[..5]);
    Ok(())
}

/// Writers racing on the same few objects with different entries never leave the
/// index out of step with the objects: afterwards, every entry found by a query
/// belongs to its object's stored entries, and every stored entry is found.
pub async fn index_concurrent_writers_keep_entries_exact<H: Harness>(h: H) -> Outcome {
    let (_cx, store) = open(h, "idx_race").await?;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for writer in 0..8i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..25i64 {
                let key = [b'o', (round % 3) as u8];
                let term = writer * 100 + round;
                let entries = [
                    IndexEntry::new("w_int", term),
                    IndexEntry::new("r_bin", format!("{writer}")),
                ];
                if round % 5 == 4 {
                    store.delete(&key).await.expect("delete");
                } else if round % 2 == 0 {
                    store.put_entries(&key, b"v", &entries).await.expect("put");
                } else {
                    let specs = [IndexSpec::Add(entries[0].clone())];
                    store
                        .put_specs(&key, b"v", &specs)
                        .await
                        .expect("put specs");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    let mut stored = BTreeSet::new();
    for k in 0..3u8 {
        if let Some((_, entries)) = store.get_with_entries(&[b'o', k]).await.unwrap() {
            for e in entries {
                stored.insert((e.field, e.term, Bytes::copy_from_slice(&[b'o', k])));
            }
        }
    }
    let mut found = BTreeSet::new();
    for (field, q) in [
        ("w_int", Query::range("w_int", i64::MIN, i64::MAX)),
        ("r_bin", Query::range("r_bin", "", Term::bin([0xFF; 8]))),
    ] {
        for hit in all_pages(&store, &q.return_terms().max_results(4)).await {
            found.insert((field.to_owned(), hit.term.unwrap(), hit.key));
        }
    }
    assert_eq!(
        found, stored,
        "index entries == the objects' stored entries"
    );
    Ok(())
}
