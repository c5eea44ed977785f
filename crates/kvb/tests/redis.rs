//! `kvb` against a real redis-server on a free loopback port (or `REDIS_TEST_URL`).
#![cfg(feature = "redis")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use test_support::{fresh_namespace, shared_url};

mod common;
use common::{kvb, load, ok};

fn redis_url() -> String {
    let base = shared_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}namespace={}", fresh_namespace())
}

#[test]
fn data_commands_and_bench_on_redis() {
    let url = redis_url();
    ok(&["put", &url, "users", "user:1", "Ada"]);
    ok(&["put", &url, "users", "user:2", "Grace", "--ttl", "1h"]);
    assert_eq!(ok(&["get", &url, "users", "user:1"]), "Ada\n");
    assert_eq!(
        ok(&["scan", &url, "users", "--reverse", "--keys-only"]),
        "user:2\nuser:1\n"
    );
    assert_eq!(kvb(&["get", &url, "users", "nope"]).status.code(), Some(1));
    let stats = ok(&["stats", &url]);
    assert!(
        stats.contains("backend\tredis") && stats.contains("cross_process_watch"),
        "{stats}"
    );
    let bench = ok(&["bench", &url, "--records", "1000", "--ops", "2000", "-q"]);
    assert!(
        bench.contains("read") && bench.contains("p99 us"),
        "{bench}"
    );
    assert_eq!(
        ok(&["partitions", &url]),
        "users\n",
        "bench dropped its partition"
    );
}

#[test]
fn watch_sees_puts_from_another_process() {
    let url = redis_url();
    ok(&["partitions", &url, "--create", "events"]);
    let mut watcher = Command::cargo_bin("kvb")
        .unwrap()
        .args([
            "watch",
            &url,
            "events",
            "--prefix",
            "a",
            "--count",
            "2",
            "--timeout",
            "30s",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The watch is live once its subscription is; keep writing until it reports.
    let stdout = watcher.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map(|l| l.unwrap())
            .collect::<Vec<_>>()
    });
    for i in 0..50 {
        if reader.is_finished() {
            break;
        }
        ok(&["put", &url, "events", &format!("a{i}"), "x"]);
        ok(&["put", &url, "events", "b", "ignored"]);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let lines = reader.join().unwrap();
    assert!(watcher.wait().unwrap().success());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("put\ta") && l.ends_with("\tx")),
        "{lines:?}"
    );
}

#[test]
fn copy_file_to_redis_to_file_verifies_equal() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (a, b) = (
        format!("file://{}", dirs[0].path().display()),
        format!("file://{}", dirs[1].path().display()),
    );
    let r = redis_url();
    load(&a, 5000);
    ok(&["-x", "put", &a, "bin", "00ff01", "fe00"]);
    let out = ok(&["copy", &a, &r, "--batch", "500"]);
    assert!(out.starts_with("copied 5001 keys"), "{out}");
    ok(&["copy", &r, &b]);
    let digests: Vec<String> = [&a, &r, &b].iter().map(|u| ok(&["verify", u])).collect();
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[1], digests[2]);
    let dump = dirs[0].path().with_extension("kvd");
    ok(&["dump", &r, dump.to_str().unwrap()]);
    let r2 = redis_url();
    ok(&["restore", dump.to_str().unwrap(), &r2]);
    assert_eq!(ok(&["verify", &r2]), digests[0]);
}
