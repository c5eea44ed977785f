//! Criterion's saved estimates in, and the record of how a run was made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::subject::SUBJECTS;
use crate::table::WORKLOADS;

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
                out.entry(w.id.to_owned())
                    .or_default()
                    .insert(s.to_owned(), p);
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
pub(super) fn civil(days: i64) -> (i64, u32, u32) {
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
