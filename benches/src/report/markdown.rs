//! `docs/benchmarks.md`: one table per workload, ratios against each raw engine, the
//! goals missed.

use std::fmt::Write as _;
use std::path::Path;

use super::results::{Results, now_utc, run_info};
use crate::subject::{BACKENDS, SUBJECTS, raw_engine_of};
use crate::table::WORKLOADS;

/// Adapters should stay within this factor of their raw engine.
pub const ADAPTER_GOAL: f64 = 1.15;

/// The machine, from /proc and the kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    format!(
        "{model}, {cores} logical cores, {:.1} GiB RAM, Linux {kernel}",
        mem_kib as f64 / (1 << 20) as f64
    )
}

/// `12345678.9` as `12.3 M`, `1234.5` as `1.23 k`.
pub fn human(rate: f64) -> String {
    let (v, unit) = if rate >= 1e6 {
        (rate / 1e6, " M")
    } else if rate >= 1e3 {
        (rate / 1e3, " k")
    } else {
        (rate, "")
    };
    if v >= 100.0 {
        format!("{v:.0}{unit}")
    } else if v >= 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.2}{unit}")
    }
}

/// What each adapter does beyond its raw engine: the usual reasons for a gap.
pub const EXTRA_WORK: [(&str, &str); 6] = [
    (
        "all",
        "every backend call goes through `async_trait` (one boxed future per call) and \
         validates the key, value and partition; the `null` row is that floor. Raw \
         engines are called through generic code with no boxing.",
    ),
    (
        "mem",
        "a partition lookup, a TTL check per entry, memory accounting and a watch-hub \
         publish per write on top of the same `RwLock<BTreeMap>`.",
    ),
    (
        "file",
        "a partition id and TTL deadline in every record, a compact keydir (no allocation \
         per key), the value cache, the watch hub, the default `SyncPolicy::EveryMs(100)` \
         background sync; `raw_log` has no rotation, merge or hints. Both leave each \
         acknowledged put in the OS (one `pwrite` per write: it survives a process kill). \
         Durable writes: backend-file group-commits concurrent writers, `raw_log` syncs \
         once per put.",
    ),
    (
        "rocks",
        "an 8-byte TTL header on every value (so a copy on get and put), a column-family \
         lookup by name per call, striped key locks for CAS, the watch hub, and sync \
         writes run on tokio's blocking pool.",
    ),
    (
        "sled",
        "the TTL header on every value, the watch hub, CAS on the stored (header + value) \
         bytes; durable mode is a `flush()` after each write in both, but the adapter's \
         runs on tokio's blocking pool.",
    ),
    (
        "redis",
        "writes are Lua scripts that check the partition marker, keep the lex index and \
         publish a change event for watchers; reads check the marker in the same round \
         trip. `raw_redis` pipelines a bare `SET` + `ZADD` and reads with `GET`/`MGET`.",
    ),
];

/// A goal missed, for the closing notes.
fn misses(results: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for (w, row) in results {
        for b in BACKENDS {
            let (Some(p), Some(raw)) = (row.get(b), raw_engine_of(b).and_then(|r| row.get(r)))
            else {
                continue;
            };
            let slow = raw.rate / p.rate;
            if slow > ADAPTER_GOAL {
                out.push(format!(
                    "`{w}`: {b} is {slow:.2}x slower than {} (goal {ADAPTER_GOAL}x)",
                    raw_engine_of(b).unwrap_or("")
                ));
            }
        }
    }
    for w in [
        "get_100B",
        "get_1KiB",
        "get_64KiB",
        "put_100B",
        "put_1KiB",
        "put_64KiB",
    ] {
        let Some(row) = results.get(w) else { continue };
        let Some(file) = row.get("file") else {
            continue;
        };
        for other in ["sled", "rocks"] {
            if let Some(o) = row.get(other)
                && o.rate >= file.rate
            {
                out.push(format!(
                    "`{w}`: file ({} ops/s) is not faster than {other} ({} ops/s)",
                    human(file.rate),
                    human(o.rate)
                ));
            }
        }
    }
    out
}

/// The markdown page. `short_run` adds a warning that the figures come from a short run.
pub fn markdown(results: &Results, dir: &Path, note: Option<&str>) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks: every backend against its raw engine\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run -p benches --bin bench_report` from criterion's saved \
         estimates of `benches/benches/compare.rs`. Do not edit by hand.\n"
    );
    if let Some(note) = note {
        let _ = writeln!(md, "> {note}\n");
    }
    let _ = writeln!(md, "- Machine: {}", machine());
    match run_info(dir) {
        Some((cmd, secs, date)) => {
            let _ = writeln!(md, "- Run: `{cmd}`, {secs} s wall time, finished {date}");
        }
        None => {
            let _ = writeln!(md, "- Run: command not recorded");
        }
    }
    let _ = writeln!(md, "- Page generated: {}", now_utc());
    let _ = writeln!(
        md,
        "- Regenerate: `scripts/bench.sh` (the whole comparison, then this page), or \
         `cargo run -p benches --bin bench_report` from saved results.\n"
    );
    let _ = writeln!(
        md,
        "Every subject runs the same generic workload code (`benches/src/workloads.rs`) \
         on a 2-worker tokio runtime. Backends go through `Arc<dyn StorageBackend>` with \
         their default configuration (file: `SyncPolicy::EveryMs(100)`; rocks: no sync \
         writes; sled: flush every 500 ms; redis: a private `redis-server` without \
         persistence); raw engines are called directly with the same engine settings. \
         Keys are 16 bytes. `null` stores nothing and answers at once: its figure is \
         the harness floor, the most any subject could reach through the trait. \
         Ratio = raw engine ops/s / backend ops/s (1.00 = no overhead; higher = slower \
         than raw). Rates are from criterion's mean time per iteration.\n"
    );
    let _ = writeln!(
        md,
        "Goals: each adapter within {ADAPTER_GOAL}x of its raw engine (mem vs raw_btree, \
         file vs raw_log, rocks vs raw_rocks, sled vs raw_sled, redis vs raw_redis); \
         backend-file faster than sled and RocksDB on point get and put. A miss is \
         marked **bold** and listed at the end.\n"
    );
    let _ = writeln!(md, "![ops/s per workload, log scale](benchmarks.svg)\n");
    let _ = writeln!(
        md,
        "RAM per key and open time at 1M and 10M keys (file, sled, rocks): \
         [scale.md](scale.md).\n"
    );

    for workload in WORKLOADS {
        let w = workload.id;
        let row = results.get(w);
        let _ = writeln!(md, "## `{w}`\n\n{}\n", workload.description);
        if let Some(c) = workload.caveat {
            let _ = writeln!(md, "{c}\n");
        }
        let _ = writeln!(md, "| subject | ops/s | mean time | vs raw engine |");
        let _ = writeln!(md, "|---|---:|---:|---|");
        for s in SUBJECTS {
            if let Some(reason) = workload.skip_reason(s) {
                let _ = writeln!(md, "| {s} | - | - | skipped: {reason} |");
                continue;
            }
            let Some(p) = row.and_then(|r| r.get(s)) else {
                let _ = writeln!(md, "| {s} | - | - | not measured in this run |");
                continue;
            };
            let ratio = match (raw_engine_of(s), s) {
                (Some(raw), _) => match row.and_then(|r| r.get(raw)) {
                    Some(r) => {
                        let x = r.rate / p.rate;
                        if x > ADAPTER_GOAL {
                            format!("**{x:.2}x of {raw}** (miss)")
                        } else {
                            format!("{x:.2}x of {raw}")
                        }
                    }
                    None => format!("{raw} not measured"),
                },
                (None, "null") => "harness floor".into(),
                (None, _) => "raw engine".into(),
            };
            let _ = writeln!(
                md,
                "| {s} | {} | {} | {ratio} |",
                human(p.rate),
                duration(p.mean_ns)
            );
        }
        let _ = writeln!(md);
    }

    let _ = writeln!(md, "## Where a goal is missed\n");
    let misses = misses(results);
    if misses.is_empty() {
        let _ = writeln!(md, "No goal is missed in this run.\n");
    } else {
        for m in &misses {
            let _ = writeln!(md, "- {m}");
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "Why an adapter trails its raw engine: the work it does that the raw engine \
         skips.\n"
    );
    for (who, why) in EXTRA_WORK {
        let _ = writeln!(md, "- **{who}**: {why}");
    }
    let _ = writeln!(md);
    md
}

fn duration(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}
