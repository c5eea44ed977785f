//! Every backend on the same workloads, each beside its raw engine and the null
//! backend, in one run. Groups are workloads (`get_100B`, `ycsb_a_16`, ...), function
//! ids are subjects (`mem`, `file`, ..., `raw_log`, `null`); `bench_report` turns the
//! saved estimates into `docs/benchmarks.md`. See `benches/src/workloads.rs` for what
//! each workload does and `benches/src/subject.rs` for what each subject skips, and why.
//!
//! `cargo bench -p benches --bench compare -- [filter]` (criterion's regex filter over
//! `workload/subject`: `get_100B`, `/rocks$`, `ycsb_.*/file`); under `cargo test` each
//! workload runs once on tiny data sets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::adapter::Adapter;
use benches::plan::Plan;
use benches::raw_log::RawLog;
use benches::raw_mem::{RawBtree, RawDash};
use benches::raw_redis::RawRedis;
use benches::raw_rocks::RawRocks;
use benches::raw_sled::RawSled;
use benches::subject::{SUBJECTS, Subject};
use benches::table::WORKLOADS;
use benches::workloads::{Ctx, open_loaded, run};
use criterion::Criterion;

/// Every subject this run opened, loaded with the data sets.
#[derive(Default)]
struct Lineup {
    adapters: Vec<Arc<Adapter>>,
    raw_btree: Option<Arc<RawBtree>>,
    raw_dash: Option<Arc<RawDash>>,
    raw_log: Option<Arc<RawLog>>,
    raw_rocks: Option<Arc<RawRocks>>,
    raw_sled: Option<Arc<RawSled>>,
    raw_redis: Option<Arc<RawRedis>>,
}

/// Runs `$body` with `$s` bound to each opened subject (one expansion per type, so
/// every workload is monomorphised per engine: no dyn dispatch on the raw side).
macro_rules! each_subject {
    ($lineup:expr, |$s:ident| $body:expr) => {{
        for $s in &$lineup.adapters {
            $body
        }
        if let Some($s) = &$lineup.raw_btree {
            $body
        }
        if let Some($s) = &$lineup.raw_dash {
            $body
        }
        if let Some($s) = &$lineup.raw_log {
            $body
        }
        if let Some($s) = &$lineup.raw_rocks {
            $body
        }
        if let Some($s) = &$lineup.raw_sled {
            $body
        }
        if let Some($s) = &$lineup.raw_redis {
            $body
        }
    }};
}

fn open<S: Subject>(ctx: &Ctx, plan: &Plan, name: &'static str) -> Option<Arc<S>> {
    if !plan.wants_subject(name) {
        return None;
    }
    let started = Instant::now();
    let s = open_loaded::<S>(ctx, name);
    eprintln!(
        "compare: opened and loaded {name} in {:.1?}",
        started.elapsed()
    );
    Some(s)
}

fn main() {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plan = Plan::from_args(args.clone());
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        // A fifth of criterion's default resamples: the analysis of ~240 points stays
        // short, the confidence intervals barely move.
        .nresamples(20_000)
        .configure_from_args();

    let root = tempfile::tempdir().expect("temp dir for the stores");
    let mut ctx = Ctx::new(plan.sizes(), root.path().to_path_buf());

    // Redis servers, only when a redis subject runs: one without persistence, one with
    // `appendfsync always` for the durable workloads.
    let wants_redis = ["redis", "raw_redis"].iter().any(|s| plan.wants_subject(s));
    let wants_durable_redis = ["redis", "raw_redis"].iter().any(|s| {
        WORKLOADS
            .iter()
            .any(|w| w.is_durable() && plan.matches(w.id, s))
    });
    let mut servers = Vec::new();
    let mut redis_missing = None;
    for (wanted, aof) in [(wants_redis, false), (wants_durable_redis, true)] {
        if !wanted {
            continue;
        }
        let persistence = if aof { test_support::AOF_ALWAYS } else { &[] };
        match test_support::Server::try_start(persistence) {
            Ok(server) => {
                let url = Some(server.url());
                if aof {
                    ctx.redis_durable_url = url;
                } else {
                    ctx.redis_url = url;
                }
                servers.push(server);
            }
            Err(e) => redis_missing = Some(e),
        }
    }
    let redis_ok = |durable: bool| {
        if durable {
            ctx.redis_durable_url.is_some()
        } else {
            ctx.redis_url.is_some()
        }
    };

    let mut lineup = Lineup::default();
    for name in ["mem", "file", "rocks", "sled", "redis", "null"] {
        if name == "redis" && !redis_ok(false) {
            continue;
        }
        if let Some(s) = open::<Adapter>(&ctx, &plan, name) {
            lineup.adapters.push(s);
        }
    }
    lineup.raw_btree = open(&ctx, &plan, "raw_btree");
    lineup.raw_dash = open(&ctx, &plan, "raw_dash");
    lineup.raw_log = open(&ctx, &plan, "raw_log");
    lineup.raw_rocks = open(&ctx, &plan, "raw_rocks");
    lineup.raw_sled = open(&ctx, &plan, "raw_sled");
    if redis_ok(false) {
        lineup.raw_redis = open(&ctx, &plan, "raw_redis");
    }

    // Every skip is printed, with its reason.
    // Whether `w` runs on `s` in this run: its table entry, and a redis server for the
    // redis subjects.
    let runs = |w: &benches::table::Workload, s: &str| -> Result<(), &'static str> {
        if let Some(reason) = w.skip_reason(s) {
            return Err(reason);
        }
        let redis = matches!(s, "redis" | "raw_redis");
        if redis && !redis_ok(w.is_durable()) {
            return Err("no redis-server");
        }
        Ok(())
    };
    for w in WORKLOADS {
        for s in SUBJECTS {
            if !plan.matches(w.id, s) {
                continue;
            }
            if let Err(reason) = runs(w, s) {
                println!("compare: skip {}/{s}: {reason}", w.id);
            }
        }
    }
    if let Some(e) = &redis_missing {
        println!("compare: redis subjects skipped where no server: {e}");
    }

    for w in WORKLOADS {
        if !plan.wants_workload(w.id) {
            continue;
        }
        let mut group = criterion.benchmark_group(w.id);
        each_subject!(lineup, |s| {
            if plan.matches(w.id, s.name()) && runs(w, s.name()).is_ok() {
                run(&mut group, w.id, s, &ctx);
            }
        });
        group.finish();
    }

    each_subject!(lineup, |s| ctx.rt.block_on(s.close()));
    criterion.final_summary();

    let done = ctx.done.lock();
    let ran = done.len();
    let ops: u64 = done.values().sum();
    for ((w, s), n) in done.iter() {
        assert!(*n > 0, "{w}/{s} ran but counted no operation");
    }
    if !plan.bench {
        // Test mode: every (workload, subject) pair the filter selects and nothing
        // skips must have run and been checked.
        for w in WORKLOADS {
            for s in SUBJECTS {
                let expected = plan.matches(w.id, s) && runs(w, s).is_ok();
                assert_eq!(
                    done.contains_key(&(w.id.to_owned(), s.to_owned())),
                    expected,
                    "{}/{s}",
                    w.id
                );
            }
        }
    }
    println!(
        "compare: {ran} workload/subject pairs, {ops} operations checked, {:.0?}",
        started.elapsed()
    );
    // Only a whole comparison describes the page; a filtered run (one workload or
    // subject) updates its own estimates and leaves the recorded command alone.
    if plan.bench && !plan.is_filtered() {
        benches::report::save_run(&args, started.elapsed());
    }
    drop(done);
    drop(lineup);
    drop(servers);
}
