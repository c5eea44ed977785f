//! From criterion's saved estimates to `docs/benchmarks.md` and `docs/benchmarks.svg`
//! (used by the `bench_report` binary; the comparison bench records its command line
//! here with [`save_run`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::subject::{BACKENDS, SUBJECTS, raw_engine_of};
use crate::table::WORKLOADS;

/// Adapters should stay within this factor of their raw engine.
pub const ADAPTER_GOAL: f64 = 1.15;

/// File (in criterion's directory) where the bench records how it was run.
const RUN_FILE: &str = "compare-run.txt";

/// Criterion's output directory: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `target/criterion` at the workspace root.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("criterion")
}

/// Records the command line and wall time of a comparison run for the report.
pub fn save_run(args: &[String], took: Duration) {
    let shown: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    let text = format!(
        "cargo bench -p benches --bench compare -- {}\n{}\n{}\n",
        shown.join(" "),
        took.as_secs(),
        now_utc()
    );
    let dir = criterion_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(RUN_FILE), text);
    }
}

/// One measured point: a subject on a workload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Elements (ops or keys) per second, from the mean time per iteration.
    pub rate: f64,
    /// Mean time per iteration, nanoseconds.
    pub mean_ns: f64,
}

/// `workload -> subject -> point`, for every estimate found.
pub type Results = BTreeMap<String, BTreeMap<String, Point>>;

/// Reads `<dir>/<workload>/<subject>/new/{estimates,benchmark}.json` for every known
/// workload and subject. Missing or unreadable files are simply absent.
pub fn load(dir: &Path) -> Results {
    let mut out = Results::new();
    for w in WORKLOADS {
        for s in SUBJECTS {
            let base = dir.join(w.id).join(s).join("new");
            if let Some(p) = read_point(&base) {
                out.entry(w.id.to_owned()).or_default().insert(s.to_owned(), p);
            }
        }
    }
    out
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// One point from criterion's `estimates.json` (mean, ns per iteration) and
/// `benchmark.json` (throughput: elements per iteration).
fn read_point(base: &Path) -> Option<Point> {
    let est = read_json(&base.join("estimates.json"))?;
    let mean_ns = est["mean"]["point_estimate"].as_f64()?;
    let elements = read_json(&base.join("benchmark.json"))
        .and_then(|b| b["throughput"]["Elements"].as_f64())
        .unwrap_or(1.0);
    (mean_ns > 0.0).then(|| Point {
        rate: elements * 1e9 / mean_ns,
        mean_ns,
    })
}

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

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

/// How a run was made: `(command, seconds, date)` from [`save_run`], if recorded.
pub fn run_info(dir: &Path) -> Option<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join(RUN_FILE)).ok()?;
    let mut lines = text.lines();
    Some((
        lines.next()?.trim().to_owned(),
        lines.next()?.trim().to_owned(),
        lines.next()?.trim().to_owned(),
    ))
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
        "a partition id and TTL deadline in every record, the watch hub, a writer that \
         must leave each acknowledged put in the OS (a write syscall per put) where \
         `raw_log` fills a 1 MiB user-space buffer; the default `SyncPolicy::EveryMs(100)` \
         background sync; `raw_log` has no rotation, merge or hints. Durable writes: \
         backend-file group-commits concurrent writers, `raw_log` syncs once per put.",
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

/// Colours of the five backends in the chart.
const COLOURS: [&str; 5] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#9c6ade"];

/// A grouped horizontal bar chart: one group per workload, one bar per backend, ops/s
/// on a log axis.
pub fn svg(results: &Results) -> String {
    let rows: Vec<&str> = WORKLOADS
        .iter()
        .map(|w| w.id)
        .filter(|w| {
            results
                .get(*w)
                .is_some_and(|r| BACKENDS.iter().any(|b| r.contains_key(*b)))
        })
        .collect();
    let (label_w, plot_w, bar_h, gap) = (130.0, 620.0, 7.0, 10.0);
    let group_h = bar_h * BACKENDS.len() as f64 + gap;
    let top = 50.0;
    let height = top + group_h * rows.len() as f64 + 40.0;
    let width = label_w + plot_w + 90.0;
    let rates = rows.iter().flat_map(|w| {
        let r = &results[*w];
        BACKENDS
            .iter()
            .filter_map(move |b| r.get(*b).map(|p| p.rate))
    });
    let (lo, hi) = rates.fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    let (lo_exp, hi_exp) = if hi > 0.0 {
        (
            lo.log10().floor().min(hi.log10().floor()),
            hi.log10().ceil().max(lo.log10().floor() + 1.0),
        )
    } else {
        (0.0, 1.0)
    };
    let x = |rate: f64| {
        label_w + plot_w * (rate.max(10f64.powf(lo_exp)).log10() - lo_exp) / (hi_exp - lo_exp)
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{label_w}" y="16" font-size="13" font-weight="bold">ops/s per workload (log scale; keys/s for get_many, scan, batch)</text>"#
    );
    for (i, (b, c)) in BACKENDS.iter().zip(COLOURS).enumerate() {
        let lx = label_w + i as f64 * 80.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="26" width="10" height="10" fill="{c}"/><text x="{}" y="35">{b}</text>"#,
            lx + 14.0
        );
    }
    let bottom = top + group_h * rows.len() as f64;
    let mut e = lo_exp as i32;
    while e as f64 <= hi_exp {
        let gx = x(10f64.powi(e));
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{top}" x2="{gx:.1}" y2="{bottom}" stroke="#ddd"/><text x="{gx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            bottom + 14.0,
            human(10f64.powi(e))
        );
        e += 1;
    }
    for (i, w) in rows.iter().enumerate() {
        let gy = top + group_h * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{w}</text>"#,
            label_w - 6.0,
            gy + group_h / 2.0 + 2.0
        );
        for (j, (b, c)) in BACKENDS.iter().zip(COLOURS).enumerate() {
            let Some(p) = results[*w].get(*b) else {
                continue;
            };
            let y = gy + j as f64 * bar_h;
            let w_bar = (x(p.rate) - label_w).max(1.0);
            let _ = writeln!(
                s,
                r#"<rect x="{label_w}" y="{y:.1}" width="{w_bar:.1}" height="{:.1}" fill="{c}"><title>{w} {b}: {} ops/s</title></rect>"#,
                bar_h - 1.0,
                human(p.rate)
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="{label_w}" y="{:.0}" fill="#555">Generated by bench_report; see benchmarks.md for ratios to the raw engines.</text>"##,
        height - 8.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rate: f64) -> Point {
        Point {
            rate,
            mean_ns: 1e9 / rate,
        }
    }

    fn sample() -> Results {
        let mut r = Results::new();
        let row = r.entry("get_100B".into()).or_default();
        row.insert("mem".into(), point(1_000_000.0));
        row.insert("raw_btree".into(), point(2_000_000.0));
        row.insert("file".into(), point(500_000.0));
        row.insert("raw_log".into(), point(520_000.0));
        row.insert("rocks".into(), point(600_000.0));
        row.insert("null".into(), point(9_000_000.0));
        r
    }

    #[test]
    fn page_marks_misses_and_skips() {
        let md = markdown(&sample(), Path::new("/nonexistent"), Some("short run"));
        assert!(md.contains("| mem | 1.00 M |"), "{md}");
        assert!(md.contains("**2.00x of raw_btree** (miss)"));
        assert!(md.contains("1.04x of raw_log"));
        assert!(md.contains("harness floor"));
        assert!(md.contains("skipped: DashMap is unordered"));
        assert!(md.contains("`get_100B`: mem is 2.00x slower than raw_btree"));
        assert!(md.contains("`get_100B`: file (500 k ops/s) is not faster than rocks"));
        assert!(md.contains("> short run"));
    }

    #[test]
    fn chart_has_one_bar_per_measured_backend() {
        let svg = svg(&sample());
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }

    #[test]
    fn reads_criterion_files() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("batch_100/rocks/new");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(
            base.join("estimates.json"),
            r#"{"mean":{"point_estimate":2000.0}}"#,
        )
        .unwrap();
        std::fs::write(
            base.join("benchmark.json"),
            r#"{"throughput":{"Elements":100}}"#,
        )
        .unwrap();
        let r = load(dir.path());
        assert_eq!(r["batch_100"]["rocks"].rate, 50_000_000.0);
    }

    #[test]
    fn dates_and_numbers() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(human(1_234_567.0), "1.23 M");
        assert_eq!(human(999.0), "999");
    }
}
