//! Running the `kvb` binary from tests.
#![allow(dead_code)]

use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;

/// `kvb args...`, its output collected.
pub fn kvb(args: &[&str]) -> Output {
    Command::cargo_bin("kvb")
        .expect("kvb binary")
        .args(args)
        .output()
        .expect("run kvb")
}

/// `kvb args...`, which must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = kvb(args);
    assert!(
        out.status.success(),
        "kvb {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Loads `records` keys into partition `kvb_bench` of `url` (a `kvb bench` that keeps
/// its data).
pub fn load(url: &str, records: u64) {
    ok(&[
        "bench",
        url,
        "--records",
        &records.to_string(),
        "--ops",
        "10",
        "--keep",
        "-q",
    ]);
}
