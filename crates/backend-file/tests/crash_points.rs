//! Crash points: a power cut between every two disk calls of the store's multi-step
//! procedures. For each procedure a probe run counts the disk calls it makes (its
//! background work included: the sealer's `fdatasync` and hint file after a rotation);
//! then, for every call, the procedure is replayed on a fresh simulated disk with the
//! power cut at that call, under three disk seeds (different tears and surviving
//! prefixes), and the store is reopened and checked against the model (every
//! acknowledged durable write kept, every other one whole or absent, no value never
//! written). A quarter of the reopens are cut again inside recovery.
//!
//! Procedures: rotation (seal, new file: temporary name, header, sync, rename,
//! directory sync; the sealer's sync, hint read-back, hint write, sync, rename,
//! directory sync), close writing the queued hints, merge (outputs, hints, manifest
//! commit, keydir swap, renames, input deletion, manifest removal), partition drop and
//! re-create. Each under `SyncPolicy::Always` and `Never`.

mod sim_model;

use std::time::{Duration, Instant};

use backend_file::SyncPolicy;
use sim_model::run::Run;
use sim_model::runtime;
use sim_model::stats::Stats;
use sim_model::steps::{BatchOp, Step, Ttl};

fn put(p: usize, k: usize, pad: usize) -> Step {
    Step::Put {
        p,
        k,
        pad,
        ttl: Ttl::None,
    }
}

/// A procedure: steps that bring the store to where it starts, then its own steps.
struct Procedure {
    name: &'static str,
    setup: Vec<Step>,
    steps: Vec<Step>,
}

fn procedures() -> Vec<Procedure> {
    let base = || vec![Step::Create(0), Step::Create(1)];
    let filled = || {
        let mut s = base();
        s.extend([put(0, 0, 1000), put(1, 1, 1000), put(0, 2, 1000)]);
        s
    };
    let several_files = || {
        let mut s = base();
        s.extend((0..12).map(|i| put(i % 2, i % 4, 900)));
        s.push(Step::Delete { p: 0, k: 1 });
        s.push(Step::Batch(vec![BatchOp::Range {
            p: 1,
            from: 0,
            len: 2,
        }]));
        s
    };
    vec![
        Procedure {
            name: "rotation (seal, new active file, sealer sync and hint)",
            setup: filled(),
            steps: vec![put(1, 3, 1000), put(0, 3, 10)],
        },
        Procedure {
            name: "close writing the queued hints",
            setup: {
                let mut s = filled();
                s.push(put(1, 3, 1000));
                s
            },
            steps: vec![Step::Reopen],
        },
        Procedure {
            name: "merge (outputs, hints, manifest, swap, renames, deletions)",
            setup: several_files(),
            steps: vec![Step::Compact(0), put(0, 0, 10)],
        },
        Procedure {
            name: "partition drop and re-create",
            setup: several_files(),
            steps: vec![Step::Drop(1), Step::Create(1), put(1, 2, 10)],
        },
    ]
}

/// Waits until the disk has been quiet for a while (background sealer and merge done).
fn quiesce(run: &Run) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = run.disk.calls();
        std::thread::sleep(Duration::from_millis(4));
        if run.disk.calls() == before || Instant::now() > deadline {
            return;
        }
    }
}

/// Runs `p` with the power cut at disk call `cut` (none: a probe); returns the run's
/// statistics and the calls before and after the procedure.
async fn run_once(
    p: &Procedure,
    policy: SyncPolicy,
    seed: u64,
    cut: Option<u64>,
    dir: &std::path::Path,
) -> Result<(Stats, u64, u64), String> {
    let mut run = Run::start(seed, policy, false, dir).await;
    for s in &p.setup {
        run.step(s).await?;
    }
    quiesce(&run);
    let start = run.disk.calls();
    if let Some(at) = cut {
        run.disk.cut_at_call(at);
    }
    for s in &p.steps {
        if run.disk.is_off() {
            break;
        }
        run.step(s).await?;
    }
    quiesce(&run);
    let end = run.disk.calls();
    run.finish().await?;
    Ok((run.stats, start, end))
}

#[test]
fn a_power_cut_between_any_two_disk_calls_of_each_procedure_loses_nothing() {
    let rt = runtime();
    let real = tempfile::tempdir().unwrap();
    let dir = real.path().join("store");
    let started = Instant::now();
    let mut total = Stats::default();
    for p in procedures() {
        for policy in [SyncPolicy::Always, SyncPolicy::Never] {
            let (_, start, end) = rt
                .block_on(run_once(&p, policy, 0, None, &dir))
                .unwrap_or_else(|e| panic!("{} ({policy:?}), probe: {e}", p.name));
            let mut points = 0;
            for at in start..=end {
                for n in 0..3 {
                    // Each crash point its own draw of what survives.
                    let seed = at * 3 + n;
                    let (stats, _, _) = rt
                        .block_on(run_once(&p, policy, seed, Some(at), &dir))
                        .unwrap_or_else(|e| {
                            panic!(
                                "{} ({policy:?}), cut at call {at}, disk seed {seed}: {e}",
                                p.name
                            )
                        });
                    points += stats.crash_points;
                    total.add(&stats);
                }
            }
            println!(
                "crash_points: {} ({policy:?}): {} disk calls, {points} crash points checked",
                p.name,
                end - start
            );
        }
    }
    println!(
        "crash_points: {} crash points in all ({} cut again inside recovery), {} torn tails \
         cut, {} merges finished by open; no loss; {:.1} s",
        total.crash_points,
        total.cuts_in_recovery,
        total.torn_tails,
        total.merges_finished,
        started.elapsed().as_secs_f64()
    );
    assert!(
        total.merges_finished > 0,
        "some cuts fall after a merge's commit point"
    );
    assert!(
        !dir.exists(),
        "the simulated store touched the real filesystem"
    );
}
