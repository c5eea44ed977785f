//! Crash test: a child process (this test binary, re-run with an environment variable)
//! writes with `SyncPolicy::Always` and reports every operation before issuing it and
//! once acknowledged; the parent SIGKILLs it at a random moment (while it opens, while
//! it merges, or while it writes), reopens the store and checks that it holds exactly
//! the acknowledged operations, plus possibly the one in flight, whole (a batch is
//! all-or-nothing), and that no temporary or manifest file survives the open.
//!
//! `CRASH_CYCLES` overrides the number of cycles (default 300).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use backend_api::{Bytes, KeyRange, Operation, Partition, ScanRange, StorageBackend};
use backend_file::{FileBackend, FileConfig, SyncPolicy};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHILD_DIR: &str = "BACKEND_FILE_CRASH_DIR";
const CHILD_SEED: &str = "BACKEND_FILE_CRASH_SEED";
const PARTS: [&str; 2] = ["a", "b"];

type Model = BTreeMap<(String, String), String>;

fn config(dir: &std::path::Path) -> FileConfig {
    FileConfig::new(dir)
        .sync_policy(SyncPolicy::Always)
        .max_file_size(16 << 10)
        .merge_trigger(Some(0.4))
        .merge_min_bytes(48 << 10)
}

/// A value of `pad` bytes beyond its tag, so values differ in size and merges move data.
fn value(tag: &str, pad: usize) -> String {
    format!("{tag}:{}", "x".repeat(pad))
}

/// One logged operation: `P part key value`, `D part key`, `R part start end` (a range
/// delete of `[start, end)`), or a batch of them joined by `|`.
fn apply_op(model: &mut Model, line: &str) {
    for op in line.split('|') {
        let f: Vec<&str> = op.split(' ').collect();
        match f.as_slice() {
            ["P", p, k, v] => {
                model.insert((p.to_string(), k.to_string()), v.to_string());
            }
            ["D", p, k] => {
                model.remove(&(p.to_string(), k.to_string()));
            }
            ["R", p, start, end] => {
                model.retain(|(mp, mk), _| {
                    !(mp == p && mk.as_str() >= *start && mk.as_str() < *end)
                });
            }
            _ => panic!("bad op line {line:?}"),
        }
    }
}

fn to_operation(op: &str) -> Operation {
    let f: Vec<&str> = op.split(' ').collect();
    match f.as_slice() {
        ["P", p, k, v] => Operation::put(&Partition::new(p).unwrap(), k.to_string(), v.to_string()),
        ["D", p, k] => Operation::delete(&Partition::new(p).unwrap(), k.to_string()),
        ["R", p, start, end] => Operation::delete_range(
            &Partition::new(p).unwrap(),
            KeyRange::between(start.to_string(), end.to_string()),
        ),
        _ => unreachable!(),
    }
}

/// The child: runs only when the parent set the environment variable.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = std::io::stdout().lock();
    let mut say = |s: &str| {
        writeln!(out, "@@{s}").unwrap();
        out.flush().unwrap();
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        say("OPENING");
        let store = FileBackend::open(config(std::path::Path::new(&dir)))
            .await
            .unwrap();
        say("READY");
        let parts: Vec<Partition> = PARTS.iter().map(|p| Partition::new(p).unwrap()).collect();
        for p in &parts {
            store.create_partition(p).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut n = 0u64;
        while Instant::now() < deadline {
            n += 1;
            let tag = format!("s{seed}n{n}");
            let one = |rng: &mut StdRng| {
                let p = PARTS[rng.random_range(0..2)];
                let k = format!("k{:02}", rng.random_range(0..24));
                if rng.random_bool(0.06) {
                    let from = rng.random_range(0..24);
                    let to = from + rng.random_range(1..8);
                    format!("R {p} k{from:02} k{to:02}")
                } else if rng.random_bool(0.25) {
                    format!("D {p} {k}")
                } else {
                    let pad = if rng.random_bool(0.1) {
                        rng.random_range(500..3000)
                    } else {
                        rng.random_range(0..120)
                    };
                    format!("P {p} {k} {}", value(&tag, pad))
                }
            };
            let roll = rng.random_range(0..100);
            if roll < 4 {
                say("MERGE");
                store.merge().await.unwrap();
                say("MERGED");
                continue;
            }
            let line = if roll < 30 {
                let len = rng.random_range(2..7);
                (0..len)
                    .map(|_| one(&mut rng))
                    .collect::<Vec<_>>()
                    .join("|")
            } else {
                one(&mut rng)
            };
            say(&format!("I {line}"));
            if line.contains('|') {
                store
                    .batch(line.split('|').map(to_operation).collect())
                    .await
                    .unwrap();
            } else {
                let op = to_operation(&line);
                match op {
                    Operation::Put {
                        partition,
                        key,
                        value,
                        ..
                    } => store.put(&partition, &key, &value).await.unwrap(),
                    Operation::Delete { partition, key } => {
                        store.delete(&partition, &key).await.unwrap()
                    }
                    range => store.batch(vec![range]).await.unwrap(),
                }
            }
            say("A");
        }
    });
}

async fn contents(store: &FileBackend) -> Model {
    let mut m = Model::new();
    for p in PARTS {
        let part = Partition::new(p).unwrap();
        if !store.partition_exists(&part).await.unwrap() {
            continue;
        }
        let mut s = store.scan(&part, ScanRange::all()).await.unwrap();
        while let Some(item) = s.next().await {
            let (k, v): (Bytes, Bytes) = item.unwrap();
            m.insert(
                (p.to_string(), String::from_utf8(k.to_vec()).unwrap()),
                String::from_utf8(v.to_vec()).unwrap(),
            );
        }
    }
    m
}

#[derive(Default, Debug)]
struct Tally {
    cycles: u32,
    during_open: u32,
    during_merge: u32,
    during_writes: u32,
    before_open: u32,
    acked: u64,
    in_flight_applied: u32,
    in_flight_lost: u32,
    merges_finished_on_open: u32,
    orphans_removed: u32,
    torn_tails_cut: u32,
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let cycles: u32 = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = StdRng::seed_from_u64(
        std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut model = Model::new();
    let mut tally = Tally::default();
    for cycle in 0..cycles {
        let seed: u64 = rng.random();
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_SEED, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            s
        });
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut r = BufReader::new(stdout);
            let mut buf = String::new();
            // Only whole lines count: a line cut by the kill has no newline.
            while r.read_line(&mut buf).map(|n| n > 0).unwrap_or(false) {
                if buf.ends_with('\n') {
                    let line = buf.trim_end().to_string();
                    // libtest may print "test crash_child ... " before our first line.
                    if let Some(l) = line.find("@@").map(|i| &line[i + 2..]) {
                        let _ = tx.send(l.to_string());
                        lines.push(l.to_string());
                    }
                }
                buf.clear();
            }
            lines
        });
        // Choose what to aim at: the open, a merge, or the writes.
        let (target, delay_us) = match rng.random_range(0..10) {
            0..=1 => ("OPENING", rng.random_range(0..400)),
            2..=4 => ("MERGE", rng.random_range(0..15_000)),
            _ => ("READY", rng.random_range(1_000..60_000)),
        };
        let spawned = Instant::now();
        let wait_until = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(l) if l == target => break,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < wait_until => {}
                Err(_) => break,
            }
        }
        let waited = spawned.elapsed();
        std::thread::sleep(Duration::from_micros(delay_us));
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let errors = errors.join().unwrap();
        assert!(
            !errors.contains("panicked"),
            "cycle {cycle}: the child failed:\n{errors}"
        );

        // Replay what the child said.
        let mut in_flight: Option<String> = None;
        let mut state = "before_open";
        for l in &lines {
            match l.as_str() {
                "OPENING" => state = "open",
                "READY" => state = "writes",
                "MERGE" => state = "merge",
                "MERGED" => state = "writes",
                "A" => {
                    apply_op(
                        &mut model,
                        in_flight.take().as_deref().expect("ack without intent"),
                    );
                    tally.acked += 1;
                }
                l if l.starts_with("I ") => in_flight = Some(l[2..].to_string()),
                other => panic!("unexpected child line {other:?}"),
            }
        }
        match state {
            "before_open" => tally.before_open += 1,
            "open" => tally.during_open += 1,
            "merge" => tally.during_merge += 1,
            _ => tally.during_writes += 1,
        }

        let reopen = Instant::now();
        let (actual, report) = rt.block_on(async {
            let store = FileBackend::open(config(dir.path()))
                .await
                .unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
            let actual = contents(&store).await;
            let report = store.recovery_report().clone();
            store.close().await.unwrap();
            (actual, report)
        });
        if std::env::var("CRASH_VERBOSE").is_ok() {
            eprintln!(
                "cycle {cycle}: target {target} after {waited:?}, reopen {:?}, {} lines",
                reopen.elapsed(),
                lines.len()
            );
        }
        tally.merges_finished_on_open += report.merge_finished as u32;
        tally.orphans_removed += report.orphans_removed.len() as u32;
        tally.torn_tails_cut += report.truncated.len() as u32;
        assert!(
            report.dropped.is_empty(),
            "cycle {cycle}: dropped {:?}",
            report.dropped
        );
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".tmp") && name != "MERGE",
                "cycle {cycle}: {name} left after open"
            );
        }
        if actual == model {
            if in_flight.is_some() {
                tally.in_flight_lost += 1;
            }
        } else {
            let mut with = model.clone();
            if let Some(op) = &in_flight {
                apply_op(&mut with, op);
            }
            assert!(
                in_flight.is_some() && actual == with,
                "cycle {cycle} (seed {seed}, killed during {state}): store differs from the acknowledged writes\n in flight: {in_flight:?}\n expected: {model:?}\n found: {actual:?}"
            );
            tally.in_flight_applied += 1;
            model = with;
        }
        tally.cycles += 1;
    }
    eprintln!("crash test: {tally:?}");
    assert_eq!(tally.cycles, cycles);
    assert!(tally.acked > 0);
}
