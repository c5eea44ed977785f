//! From criterion's saved estimates to `docs/benchmarks.md` and `docs/benchmarks.svg`
//! (used by the `bench_report` binary; the comparison bench records its command line
//! with [`save_run`]): [`results`] reads, [`markdown`] writes the page, [`chart`] the
//! chart.

mod chart;
mod markdown;
mod results;

pub use chart::svg;
pub use markdown::{ADAPTER_GOAL, EXTRA_WORK, human, machine, markdown};
pub use results::{Point, Results, criterion_dir, load, now_utc, run_info, save_run};

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::results::civil;
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
