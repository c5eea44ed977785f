//! Writes `docs/benchmarks.md` and `docs/benchmarks.svg` from criterion's saved
//! estimates of the `compare` bench.
//!
//! `cargo run -p benches --bin bench_report [-- --note "text"] [--out DIR]`: reads
//! `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else `target/criterion`;
//! writes into `DIR` (default: the workspace's `docs/`). `--note` puts a remark at the
//! top of the page (e.g. that the figures come from a short run).
#![deny(unsafe_code)]

use std::path::PathBuf;

use benches::report;

fn main() {
    let mut note = None;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--note" => note = args.next(),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            other => {
                eprintln!("bench_report: unknown argument {other:?} (use --note TEXT, --out DIR)");
                std::process::exit(2);
            }
        }
    }
    let dir = report::criterion_dir();
    let results = report::load(&dir);
    if results.is_empty() {
        eprintln!(
            "bench_report: no estimates of the compare bench under {} (run scripts/bench.sh first)",
            dir.display()
        );
        std::process::exit(1);
    }
    let points: usize = results.values().map(|r| r.len()).sum();
    let md = report::markdown(&results, &dir, note.as_deref());
    let svg = report::svg(&results);
    if let Err(e) = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(out.join("benchmarks.md"), md))
        .and_then(|()| std::fs::write(out.join("benchmarks.svg"), svg))
    {
        eprintln!("bench_report: cannot write into {}: {e}", out.display());
        std::process::exit(1);
    }
    println!(
        "bench_report: {points} figures over {} workloads from {} -> {}/benchmarks.{{md,svg}}",
        results.len(),
        dir.display(),
        out.display()
    );
}
