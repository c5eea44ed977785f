//! The `kvb` binary as a user runs it: mem, file, and (in `redis.rs`) a real server.
#![cfg(all(feature = "mem", feature = "file"))]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

mod common;
use common::{kvb, load, ok};

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Fills `url` with `n` keys `k00000..` in partition `p` through a dump restored by kvb
/// (the fast path), plus a few with `put`.

#[test]
fn bad_urls_and_arguments_give_one_line_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let good = file_url(dir.path());
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec!["get".into(), "nope://x".into(), "p".into(), "k".into()],
            2,
            "unknown scheme `nope`",
        ),
        (
            vec![
                "get".into(),
                format!("{good}?bogus=1"),
                "p".into(),
                "k".into(),
            ],
            2,
            "unknown parameter `bogus`",
        ),
        (
            vec![
                "get".into(),
                format!("{good}?sync=sometimes"),
                "p".into(),
                "k".into(),
            ],
            2,
            "`sync=sometimes`",
        ),
        (
            vec!["get".into(), "file://host/x".into(), "p".into(), "k".into()],
            2,
            "not a host",
        ),
        (
            vec!["get".into(), "not a url".into(), "p".into(), "k".into()],
            2,
            "malformed URL",
        ),
        (
            vec!["scan".into(), "mem://".into(), "bad-name!".into()],
            2,
            "invalid partition name",
        ),
        (
            vec![
                "put".into(),
                "mem://".into(),
                "p".into(),
                "".into(),
                "v".into(),
            ],
            2,
            "invalid key",
        ),
        (
            vec![
                "put".into(),
                "mem://".into(),
                "p".into(),
                "k".into(),
                "v".into(),
                "--ttl".into(),
                "soon".into(),
            ],
            2,
            "`--ttl=soon`",
        ),
        (
            vec![
                "get".into(),
                "-x".into(),
                "mem://".into(),
                "p".into(),
                "zz".into(),
            ],
            2,
            "not hex",
        ),
        (
            vec![
                "dump".into(),
                "mem://".into(),
                "/nonexistent/dir/x.kvd".into(),
            ],
            3,
            "/nonexistent/dir/x.kvd",
        ),
        (
            vec!["restore".into(), "/nonexistent.kvd".into(), "mem://".into()],
            3,
            "/nonexistent.kvd",
        ),
        (
            vec!["verify".into(), "--dump".into(), "/nonexistent.kvd".into()],
            3,
            "nonexistent",
        ),
        (
            vec!["get".into(), "mem://".into(), "p".into(), "k".into()],
            1,
            "does not exist",
        ),
        (
            vec!["compact".into(), "mem://".into(), "p".into()],
            2,
            "does not support compact",
        ),
        (
            vec!["scan".into(), "mem://".into(), "p".into()],
            1,
            "does not exist",
        ),
    ];
    #[cfg(not(feature = "rocks"))]
    let cases = {
        let mut c = cases;
        c.push((
            vec![
                "get".into(),
                "rocks:///tmp/x".into(),
                "p".into(),
                "k".into(),
            ],
            2,
            "enable the `rocks` feature",
        ));
        c
    };
    for (args, code, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = kvb(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "kvb {args:?}: {stderr}");
        assert!(stderr.contains(needle), "kvb {args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("kvb: error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // clap's own usage errors: exit 2, never a panic.
    for args in [
        vec!["copy"],
        vec!["bench", "mem://", "--tasks", "0"],
        vec!["scan"],
        vec!["frobnicate"],
        vec!["restore", "x", "mem://", "--batch", "0"],
    ] {
        let out = kvb(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "kvb {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn put_get_scan_del_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(dir.path());
    for (k, v) in [
        ("user:1", "Ada"),
        ("user:2", "Grace"),
        ("user:3", "Barbara"),
        ("other", "x"),
    ] {
        ok(&["put", &url, "users", k, v]);
    }
    assert_eq!(ok(&["get", &url, "users", "user:2"]), "Grace\n");
    assert_eq!(
        kvb(&["get", &url, "users", "user:9"]).status.code(),
        Some(1)
    );
    assert_eq!(
        ok(&["scan", &url, "users", "--prefix", "user:"]),
        "user:1\tAda\nuser:2\tGrace\nuser:3\tBarbara\n"
    );
    assert_eq!(
        ok(&[
            "scan",
            &url,
            "users",
            "--reverse",
            "--limit",
            "2",
            "--keys-only"
        ]),
        "user:3\nuser:2\n"
    );
    assert_eq!(
        ok(&[
            "scan", &url, "users", "--start", "user:2", "--end", "user:3"
        ]),
        "user:2\tGrace\n"
    );
    assert_eq!(
        ok(&["-o", "hex", "get", &url, "users", "user:1"]),
        "416461\n"
    );
    let json: Value =
        serde_json::from_str(ok(&["-o", "json", "scan", &url, "users", "--limit", "1"]).trim())
            .unwrap();
    assert_eq!(json, serde_json::json!({"key": "other", "value": "x"}));
    ok(&["-x", "put", &url, "bin", "00ff", "0a09"]);
    assert_eq!(ok(&["scan", &url, "bin"]), "\\x00\\xff\t\\n\\t\n");
    assert_eq!(
        ok(&["-o", "json", "get", &url, "bin", "-x", "00ff"]).trim(),
        "\"\\n\\t\""
    );
    ok(&["del", &url, "users", "user:1", "user:404"]);
    assert_eq!(
        kvb(&["get", &url, "users", "user:1"]).status.code(),
        Some(1)
    );
    assert_eq!(ok(&["partitions", &url]), "bin\nusers\n");
    ok(&["partitions", &url, "--create", "extra"]);
    ok(&["partitions", &url, "--drop", "bin"]);
    assert_eq!(
        ok(&["-o", "json", "partitions", &url]).trim(),
        "[\"extra\",\"users\"]"
    );
    let stats: Value = serde_json::from_str(ok(&["-o", "json", "stats", &url]).trim()).unwrap();
    assert_eq!(stats["backend"], "file");
    assert_eq!(stats["partitions"]["users"]["keys"], 3);
    ok(&["compact", &url, "users"]);
    assert_eq!(
        ok(&["scan", &url, "users", "--keys-only"]),
        "other\nuser:2\nuser:3\n"
    );
}

#[test]
fn dump_restore_and_copy_between_file_stores_verify_equal() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (a, b, c) = (
        file_url(dirs[0].path()),
        file_url(dirs[1].path()),
        file_url(dirs[2].path()),
    );
    for i in 0..5 {
        ok(&["put", &a, "p", &format!("k{i}"), &format!("v{i}")]);
    }
    ok(&[
        "bench",
        &a,
        "--records",
        "3000",
        "--ops",
        "500",
        "--partition",
        "bulk",
        "--keep",
        "-q",
    ]);
    let dump = dirs[0].path().with_extension("kvd");
    let dump = dump.to_str().unwrap();
    let out = ok(&["dump", &a, dump]);
    assert!(out.starts_with("dumped 3005 keys"), "{out}");
    ok(&["verify", "--dump", dump]);
    ok(&["restore", dump, &b]);
    let out = ok(&["copy", &b, &c, "--batch", "128"]);
    assert!(out.starts_with("copied 3005 keys"), "{out}");
    let digests: Vec<String> = [&a, &b, &c].iter().map(|u| ok(&["verify", u])).collect();
    assert!(digests[0].contains("bulk\t3000 keys"), "{}", digests[0]);
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[1], digests[2]);
    // Restoring again into a full store is refused (exit 2) and names the partition.
    let out = kvb(&["restore", dump, &b]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    // A dump through stdout and stdin.
    let piped = Command::cargo_bin("kvb")
        .unwrap()
        .args(["dump", &a, "-", "--zstd", "0"])
        .output()
        .unwrap();
    assert!(piped.status.success());
    let d = tempfile::tempdir().unwrap();
    let mut restore = Command::cargo_bin("kvb").unwrap();
    restore
        .args(["restore", "-", &file_url(d.path())])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = restore.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &piped.stdout).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(ok(&["verify", &file_url(d.path())]), digests[0]);
}

#[test]
fn a_corrupted_dump_is_refused_naming_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(dir.path());
    load(&url, 2000);
    let dump = dir.path().with_extension("kvd");
    ok(&["dump", &url, dump.to_str().unwrap()]);
    let good = std::fs::read(&dump).unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut x = seed | 1;
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = (x % good.len() as u64) as usize;
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        std::fs::write(&dump, &bad).unwrap();
        for args in [
            vec!["verify", "--dump", dump.to_str().unwrap()],
            vec!["restore", dump.to_str().unwrap(), "mem://"],
        ] {
            let out = kvb(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(4), "byte {at}: {stderr}");
            assert!(
                stderr.contains("corrupt dump: block ")
                    || stderr.contains("corrupt dump: file header"),
                "byte {at}: {stderr}"
            );
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        }
    }
}

#[test]
fn verify_reports_a_damaged_data_file_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(dir.path());
    load(&url, 2000);
    let clean = kvb(&["verify", &url]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let data = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "data"))
        .unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    let out = kvb(&["verify", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let name = data.file_name().unwrap().to_str().unwrap();
    assert!(
        stderr.contains(name) && stderr.contains("offset"),
        "{stderr}"
    );
}

#[test]
fn a_copy_killed_halfway_resumes_and_ends_equal() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (src, dst) = (file_url(dirs[0].path()), file_url(dirs[1].path()));
    load(&src, 40000);
    let checkpoint = dirs[1].path().with_extension("checkpoint");
    let cp = checkpoint.to_str().unwrap();
    let mut child = Command::cargo_bin("kvb")
        .unwrap()
        .args([
            "copy",
            &src,
            &format!("{dst}?sync=always"),
            "--batch",
            "50",
            "--checkpoint",
            cp,
            "-q",
        ])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&checkpoint).unwrap_or_default();
        if text.lines().any(|l| {
            l.starts_with("at kvb_bench ")
                && l.split(' ')
                    .nth(2)
                    .is_some_and(|n| n.parse::<u64>().unwrap_or(0) >= 2000)
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy finished before it could be killed; make it slower"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    let done: u64 = text
        .lines()
        .find(|l| l.starts_with("at kvb_bench "))
        .unwrap()
        .split(' ')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(done < 40_000, "killed halfway: {text}");
    let out = ok(&[
        "copy",
        &src,
        &format!("{dst}?sync=always"),
        "--batch",
        "50",
        "--checkpoint",
        cp,
        "-q",
    ]);
    let copied: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        copied <= 40_000 - done,
        "resumed run copied {copied}, {done} were already done"
    );
    assert!(!checkpoint.exists());
    assert_eq!(ok(&["verify", &src]), ok(&["verify", &dst]));
}

#[test]
fn bench_prints_percentiles() {
    let out = ok(&[
        "-o",
        "json",
        "bench",
        "mem://",
        "--records",
        "1000",
        "--ops",
        "5000",
        "--tasks",
        "2",
        "--workload",
        "b",
    ]);
    let doc: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["ops"], 5000);
    let ops = doc["latency"].as_array().unwrap();
    assert_eq!(ops[0]["op"], "read");
    assert!(ops[0]["p99_us"].as_u64().unwrap() >= ops[0]["p50_us"].as_u64().unwrap());
    let text = ok(&["bench", "mem://", "--records", "100", "--ops", "100"]);
    assert!(text.contains("p99.9 us"), "{text}");
}
