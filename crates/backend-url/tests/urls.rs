//! URLs to configs and back, and every kind of bad URL.

use std::path::PathBuf;
use std::time::Duration;

use backend_url::{BackendConfig, UrlError, canonical};
use proptest::prelude::*;

fn err(url: &str) -> UrlError {
    BackendConfig::from_url(url).expect_err(url)
}

#[test]
fn canonical_forms_round_trip() {
    for url in [
        "mem://",
        "mem://?max_memory=1048576&sweep_interval=250ms&scan_chunk=16",
        "file:///var/lib/kv",
        "file:///tmp/a%20b%3Fc%23d%25?sync=always&repair=true",
        "file:relative/dir?sync=20ms&merge_trigger=0.25",
        "file:///x?max_file_size=4096&merge_trigger=off&watch_capacity=7",
        "file:///x?sync=never",
    ] {
        assert_eq!(canonical(url).unwrap(), url, "{url}");
    }
}

#[test]
fn equivalent_spellings_have_one_canonical_form() {
    assert_eq!(canonical("MEM://").unwrap(), "mem://");
    assert_eq!(canonical("mem:").unwrap(), "mem://");
    assert_eq!(
        canonical("file://localhost/srv/kv").unwrap(),
        "file:///srv/kv"
    );
    assert_eq!(canonical("file:/srv/kv").unwrap(), "file:///srv/kv");
    assert_eq!(
        canonical("file:///srv/kv?sync=100ms").unwrap(),
        "file:///srv/kv"
    );
    assert_eq!(
        canonical("file:///srv/kv?max_file_size=1MiB").unwrap(),
        "file:///srv/kv?max_file_size=1048576"
    );
    assert_eq!(
        canonical("mem://?sweep_interval=2000ms").unwrap(),
        "mem://?sweep_interval=2s"
    );
}

#[test]
fn file_parameters_reach_the_config() {
    let BackendConfig::File(c) = BackendConfig::from_url(
        "file:///d?sync=always&max_file_size=2MiB&repair=true&merge_trigger=off",
    )
    .unwrap() else {
        panic!("not a file config");
    };
    assert_eq!(c.dir, PathBuf::from("/d"));
    assert_eq!(c.sync, backend_file::SyncPolicy::Always);
    assert_eq!(c.max_file_size, 2 << 20);
    assert!(c.repair);
    assert_eq!(c.merge_trigger, None);
}

#[test]
fn every_error_names_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("nope://x", "unknown scheme `nope`"),
        ("just-a-path", "no scheme"),
        ("file:///x?bogus=1", "unknown parameter `bogus`"),
        ("file:///x?sync=sometimes", "`sync=sometimes`"),
        ("file:///x?sync=always&sync=never", "given twice"),
        ("file:///x?sync", "has no value"),
        ("file://host/x", "takes a path, not a host (`host`)"),
        ("file://", "needs a path"),
        ("file:///x#frag", "fragment"),
        ("mem:///path", "takes no host or path"),
        ("mem://?max_memory=lots", "`max_memory=lots`"),
        ("mem://?sweep_interval=5", "a duration"),
        ("file:///x?merge_trigger=1.5", "strictly between 0 and 1"),
    ];
    for (url, needle) in cases {
        let e = err(url).to_string();
        assert!(e.contains(needle), "{url}: {e}");
        assert!(!e.contains('\n'), "{url}: one line: {e}");
    }
}

#[test]
fn schemes_of_features_left_out_say_which_feature() {
    for (url, feature) in [
        ("rocks:///x", "rocks"),
        ("sled:///x", "sled"),
        ("redis://h:1/0", "redis"),
        ("rediss://h:1/0", "redis"),
        ("redis+cluster://h:1,h:2", "redis"),
        ("rediss+cluster://h:1", "redis"),
    ] {
        let compiled = match feature {
            "rocks" => cfg!(feature = "rocks"),
            "sled" => cfg!(feature = "sled"),
            _ => cfg!(feature = "redis"),
        };
        match BackendConfig::from_url(url) {
            Ok(_) => assert!(compiled, "{url} parsed without its feature"),
            Err(e) => {
                assert!(!compiled, "{url}: {e}");
                assert!(
                    e.to_string()
                        .contains(&format!("enable the `{feature}` feature")),
                    "{e}"
                );
                assert_eq!(
                    e,
                    UrlError::FeatureDisabled {
                        scheme: url.split(':').next().unwrap().into(),
                        feature
                    }
                );
            }
        }
    }
}

#[tokio::test]
async fn open_gives_a_working_store_and_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}?sync=always", dir.path().display());
    let store = backend_url::open(&url).await.unwrap();
    let p = backend_api::Partition::new("p").unwrap();
    store.create_partition(&p).await.unwrap();
    store.put(&p, b"k", b"v").await.unwrap();
    store.close().await.unwrap();
    let again = backend_url::open(&url).await.unwrap();
    assert_eq!(
        again.get(&p, b"k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let locked = backend_url::open(&url)
        .await
        .err()
        .expect("second handle must be refused");
    assert!(
        matches!(
            locked,
            backend_url::OpenError::Backend { scheme: "file", .. }
        ),
        "{locked}"
    );
    again.close().await.unwrap();
    let mem = backend_url::open("mem://?max_memory=1MiB").await.unwrap();
    assert_eq!(mem.name(), "mem");
    assert!(matches!(
        backend_url::open("zz://").await,
        Err(backend_url::OpenError::Url(_))
    ));
    let as_api: backend_api::Error = backend_url::open("file:///x?q=1")
        .await
        .err()
        .unwrap()
        .into();
    assert!(matches!(as_api, backend_api::Error::InvalidConfig { .. }));
}

fn path_strategy() -> impl Strategy<Value = PathBuf> {
    prop::collection::vec(prop::collection::vec(1u8..=255, 1..8), 1..4).prop_filter_map(
        "no slash-only parts",
        |parts| {
            let parts: Vec<Vec<u8>> = parts
                .into_iter()
                .map(|p| p.into_iter().filter(|b| *b != b'/').collect())
                .filter(|p: &Vec<u8>| !p.is_empty())
                .collect();
            if parts.is_empty() {
                return None;
            }
            let mut bytes = b"/".to_vec();
            bytes.extend(parts.join(&b'/'));
            use std::os::unix::ffi::OsStringExt;
            Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
        },
    )
}

proptest! {
    #[test]
    fn file_configs_round_trip(
        dir in path_strategy(),
        sync in prop_oneof![Just(backend_file::SyncPolicy::Always), Just(backend_file::SyncPolicy::Never), (1u64..100_000).prop_map(backend_file::SyncPolicy::EveryMs)],
        max_file_size in 4096u64..u64::MAX / 2,
        trigger in prop::option::of(0.001f64..0.999),
        repair in any::<bool>(),
        watch in 1usize..100_000,
    ) {
        let c = backend_file::FileConfig::new(&dir).sync_policy(sync).max_file_size(max_file_size).merge_trigger(trigger).repair(repair).watch_capacity(watch);
        let url = BackendConfig::File(c.clone()).to_url().unwrap();
        let BackendConfig::File(back) = BackendConfig::from_url(&url).unwrap() else { panic!("{url}") };
        prop_assert_eq!(format!("{back:?}"), format!("{c:?}"), "{}", url);
    }

    #[test]
    fn mem_configs_round_trip(cap in prop::option::of(1000u64..u64::MAX / 2), ms in 1u64..10_000_000, budget in 1usize..1_000_000, chunk in 1usize..100_000) {
        let mut c = backend_mem::MemConfig::new().sweep_interval(Duration::from_millis(ms)).sweep_budget(budget).scan_chunk(chunk);
        c.max_memory = cap;
        let url = BackendConfig::Mem(c.clone()).to_url().unwrap();
        let BackendConfig::Mem(back) = BackendConfig::from_url(&url).unwrap() else { panic!("{url}") };
        prop_assert_eq!(back, c, "{}", url);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,64}") {
        let _ = BackendConfig::from_url(&text);
        let _ = BackendConfig::from_url(&format!("file://{text}"));
        let _ = BackendConfig::from_url(&format!("mem://?{text}"));
    }
}

#[cfg(feature = "redis")]
#[test]
fn redis_urls_round_trip_and_keep_the_server_part() {
    for url in [
        "redis://127.0.0.1:6379/0",
        "redis://:secret@h:7000/3?namespace=app1&connect_timeout=500ms&response_timeout=30s",
        "rediss://user:pw@h/0?protocol=resp3&scan_page=64#insecure",
    ] {
        assert_eq!(canonical(url).unwrap(), url, "{url}");
    }
    let BackendConfig::Redis(c) =
        BackendConfig::from_url("redis://h:1/2?namespace=n&watch_capacity=9").unwrap()
    else {
        panic!("not redis");
    };
    assert_eq!(c.url, "redis://h:1/2");
    assert_eq!(c.namespace_name(), "n");
    assert_eq!(c.watch_capacity, 9);
    for (url, needle) in [
        ("redis://h:1/x", "must be a number"),
        ("redis:h", "needs a server"),
        ("redis://:1/0", "needs a host"),
        ("redis://h/0?db=1", "unknown parameter `db`"),
    ] {
        let e = err(url).to_string();
        assert!(e.contains(needle), "{url}: {e}");
    }
    let with_cert = backend_redis::RedisConfig::new("rediss://h:1/0").tls_ca_cert("pem");
    assert!(matches!(
        BackendConfig::Redis(with_cert).to_url(),
        Err(UrlError::NotRepresentable { .. })
    ));
}

#[cfg(feature = "sled")]
#[test]
fn sled_urls_round_trip() {
    for url in [
        "sled:///srv/s",
        "sled:///srv/s?cache_capacity=1024&flush_every_ms=off&mode=high_throughput",
    ] {
        assert_eq!(canonical(url).unwrap(), url, "{url}");
    }
    assert!(
        err("sled:///s?mode=fast")
            .to_string()
            .contains("`low_space` or `high_throughput`")
    );
}

#[cfg(feature = "rocks")]
#[test]
fn rocks_urls_round_trip() {
    for url in [
        "rocks:///srv/r",
        "rocks:///srv/r?sync_writes=true&compression=none&write_buffer_bytes=1024",
    ] {
        assert_eq!(canonical(url).unwrap(), url, "{url}");
    }
}
