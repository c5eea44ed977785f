//! TTLs travel as absolute deadlines through dump, restore and copy; a source that
//! cannot report them, or a destination that cannot keep them, is named in a warning.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use backend_api::{Entry, Partition, PutOptions, ScanRange, StorageBackend};
use backend_mem::{MemBackend, MemConfig};
use futures_util::StreamExt;
use kv_transfer::{
    Block, CopyOptions, DumpOptions, DumpReader, RestoreOptions, deadline_ms, ignore,
};

mod counting;
use counting::Counting;

const HOUR: Duration = Duration::from_secs(3600);

async fn mem() -> Arc<dyn StorageBackend> {
    Arc::new(MemBackend::open(MemConfig::new()).await.unwrap())
}

fn users() -> Partition {
    Partition::new("users").unwrap()
}

/// `users` with a permanent key, one expiring in an hour, one at a fixed moment two
/// hours from now (returned), one expiring in `short`, and 2,000 permanent keys.
async fn fill(store: &dyn StorageBackend, short: Duration) -> SystemTime {
    let p = users();
    store.create_partition(&p).await.unwrap();
    let at = SystemTime::now() + 2 * HOUR;
    store.put(&p, b"perm", b"p").await.unwrap();
    store
        .put_with(&p, b"hour", b"h", PutOptions::with_ttl(HOUR))
        .await
        .unwrap();
    store
        .put_with(&p, b"at", b"a", PutOptions::expires_at(at))
        .await
        .unwrap();
    store
        .put_with(&p, b"short", b"s", PutOptions::with_ttl(short))
        .await
        .unwrap();
    for i in 0..2000 {
        store
            .put(&p, format!("k{i:05}").as_bytes(), b"v")
            .await
            .unwrap();
    }
    at
}

async fn entries(store: &dyn StorageBackend) -> Vec<Entry> {
    let mut s = store
        .scan_entries(&users(), ScanRange::all())
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(e) = s.next().await {
        out.push(e.unwrap());
    }
    out
}

fn find<'a>(entries: &'a [Entry], key: &str) -> Option<&'a Entry> {
    entries.iter().find(|e| e.key == key.as_bytes())
}

/// Asserts both deadlines are set and at most 2 ms apart (ms rounding on each side).
fn assert_close(a: Option<SystemTime>, b: Option<SystemTime>, what: &str) {
    let (Some(a), Some(b)) = (a, b) else {
        panic!("{what}: deadlines {a:?} and {b:?}");
    };
    let apart = a.duration_since(b).unwrap_or_else(|e| e.duration());
    assert!(apart <= Duration::from_millis(2), "{what}: {a:?} vs {b:?}");
}

#[tokio::test]
async fn a_dump_keeps_deadlines_and_a_restore_skips_the_passed_ones() {
    let src = mem().await;
    let at = fill(&*src, Duration::from_millis(300)).await;
    let source = entries(&*src).await;
    let (dump, summary) =
        kv_transfer::dump(&*src, Vec::new(), &DumpOptions::default(), &mut ignore)
            .await
            .unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);

    // The records hold the source's deadlines, in ms since the epoch; 0 = none.
    let mut reader = DumpReader::new(&dump[..]).unwrap();
    let mut deadlines = std::collections::BTreeMap::new();
    while let Some(block) = reader.next_block().unwrap() {
        if let Block::Records(records) = block {
            for r in records {
                deadlines.insert(r.key.to_vec(), r.deadline_ms);
            }
        }
    }
    assert_eq!(deadlines[&b"perm"[..]], 0);
    assert_eq!(deadlines[&b"k00000"[..]], 0);
    assert_eq!(deadlines[&b"at"[..]], deadline_ms(Some(at)));
    let hour = find(&source, "hour").unwrap().expires_at;
    assert_eq!(deadlines[&b"hour"[..]], deadline_ms(hour));
    assert_ne!(deadlines[&b"short"[..]], 0);

    // Restored after `short` expired: skipped, the others keep their deadlines.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let dst = mem().await;
    let summary = kv_transfer::restore(&dump[..], &*dst, &RestoreOptions::default(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(
        summary.extra, 1,
        "the expired record is skipped and counted"
    );
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let restored = entries(&*dst).await;
    assert_eq!(restored.len(), 2003);
    assert!(find(&restored, "short").is_none());
    assert_eq!(find(&restored, "perm").unwrap().expires_at, None);
    assert_close(find(&restored, "hour").unwrap().expires_at, hour, "hour");
    assert_close(find(&restored, "at").unwrap().expires_at, Some(at), "at");
}

#[tokio::test]
async fn a_copy_carries_deadlines_and_verifies() {
    let src = mem().await;
    let at = fill(&*src, Duration::from_secs(2)).await;
    let dst = mem().await;
    let mut options = CopyOptions::default();
    options.batch_keys = 100;
    let report = kv_transfer::copy(&*src, &*dst, &options, &mut ignore)
        .await
        .unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!((report.keys, report.expired), (2004, 0));
    assert_eq!(report.verified.len(), 1);
    // The check left out `short` (expiring within the horizon) on both sides.
    assert_eq!(report.verified[0].1.keys, 2003);
    let (a, b) = (entries(&*src).await, entries(&*dst).await);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.key, &x.value), (&y.key, &y.value));
        match x.expires_at {
            None => assert_eq!(y.expires_at, None, "{:?}", x.key),
            Some(_) => assert_close(x.expires_at, y.expires_at, "copied deadline"),
        }
    }
    assert_close(find(&b, "at").unwrap().expires_at, Some(at), "at");
}

#[tokio::test]
async fn a_source_that_cannot_report_ttls_is_read_without_them_and_says_so() {
    let inner = mem().await;
    fill(&*inner, HOUR).await;
    let src = Counting::new(inner, Arc::new(AtomicU64::new(0))).hiding_deadlines();
    let dst = mem().await;
    let report = kv_transfer::copy(&src, &*dst, &CopyOptions::default(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("counting cannot report TTLs"),
        "{}",
        report.warnings[0]
    );
    assert_eq!(
        find(&entries(&*dst).await, "hour").unwrap().expires_at,
        None
    );
    let (_, summary) = kv_transfer::dump(&src, Vec::new(), &DumpOptions::default(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(summary.warnings, report.warnings);
}

#[tokio::test]
async fn a_destination_without_ttl_gets_permanent_keys_and_says_so() {
    let src = mem().await;
    fill(&*src, HOUR).await;
    let dst = Counting::new(mem().await, Arc::new(AtomicU64::new(0))).without_ttl();
    let report = kv_transfer::copy(&*src, &dst, &CopyOptions::default(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("counting has no TTL"));
    assert_eq!(report.keys, 2004);
    let (dump, _) = kv_transfer::dump(&*src, Vec::new(), &DumpOptions::default(), &mut ignore)
        .await
        .unwrap();
    let dst = Counting::new(mem().await, Arc::new(AtomicU64::new(0))).without_ttl();
    let summary = kv_transfer::restore(&dump[..], &dst, &RestoreOptions::default(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(summary.warnings, report.warnings);
}
