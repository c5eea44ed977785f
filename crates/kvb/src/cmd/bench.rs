//! `kvb bench`: load `records` keys, then run `ops` reads/updates from `tasks` tasks
//! with uniformly chosen keys; latency percentiles from HDR histograms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use backend_api::{Operation, Partition, StorageBackend};
use bytes::Bytes;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;

use super::{Ctx, open, partition};
use crate::bar::Bar;
use crate::cli::{BenchArgs, Workload};
use crate::error::{CliError, CliResult, Code};
use crate::output::Format;

fn key(i: u64) -> Bytes {
    Bytes::from(format!("user{i:012}"))
}

fn histogram() -> CliResult<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| CliError::new(Code::Failed, format!("histogram: {e}")))
}

struct Task {
    reads: Histogram<u64>,
    updates: Histogram<u64>,
}

pub async fn bench(ctx: Ctx, a: BenchArgs) -> CliResult {
    let p = partition(&a.partition)?;
    let store = open(&a.url).await?;
    let result = run(ctx, &a, &store, &p).await;
    if !a.keep {
        let _ = store.drop_partition(&p).await;
    }
    let closed = store.close().await;
    result?;
    closed?;
    Ok(())
}

async fn run(ctx: Ctx, a: &BenchArgs, store: &Arc<dyn StorageBackend>, p: &Partition) -> CliResult {
    store.create_partition(p).await?;
    if !store.is_empty(p).await? {
        return Err(CliError::new(
            Code::Usage,
            format!(
                "partition {} is not empty; pick another with --partition",
                p.name()
            ),
        ));
    }
    let value = Bytes::from(vec![b'v'; a.value_size as usize]);
    let bar = Bar::new(ctx.quiet, Some(a.records));
    let load_start = Instant::now();
    let mut i = 0;
    while i < a.records {
        let end = (i + 1000).min(a.records);
        let ops = (i..end)
            .map(|k| Operation::put(p, key(k), value.clone()))
            .collect();
        store.batch(ops).await?;
        i = end;
        bar.set(i, "load");
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    bar.finish();

    let read_ratio = match a.workload {
        Workload::A => 0.5,
        Workload::B => 0.95,
        Workload::C => 1.0,
    };
    let bar = Arc::new(Bar::new(ctx.quiet, Some(a.ops)));
    let next = Arc::new(AtomicU64::new(0));
    let run_start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..a.tasks {
        let (store, p, value, next, bar) = (
            store.clone(),
            p.clone(),
            value.clone(),
            next.clone(),
            bar.clone(),
        );
        let (records, ops) = (a.records, a.ops);
        let mut task = Task {
            reads: histogram()?,
            updates: histogram()?,
        };
        handles.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(t);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= ops {
                    break;
                }
                let k = key(rng.random_range(0..records));
                let read = rng.random_bool(read_ratio);
                let started = Instant::now();
                if read {
                    store.get(&p, &k).await?;
                } else {
                    store.put(&p, &k, &value).await?;
                }
                let us = started.elapsed().as_micros().max(1) as u64;
                let h = if read {
                    &mut task.reads
                } else {
                    &mut task.updates
                };
                h.saturating_record(us);
                if n.is_multiple_of(256) {
                    bar.set(n, "run");
                }
            }
            Ok::<Task, backend_api::Error>(task)
        }));
    }
    let (mut reads, mut updates) = (histogram()?, histogram()?);
    for h in handles {
        let task = h
            .await
            .map_err(|e| CliError::new(Code::Failed, format!("bench task: {e}")))??;
        let _ = reads.add(&task.reads);
        let _ = updates.add(&task.updates);
    }
    let run_secs = run_start.elapsed().as_secs_f64();
    bar.finish();
    print(
        ctx,
        a,
        load_secs,
        run_secs,
        &[("read", &reads), ("update", &updates)],
    );
    Ok(())
}

fn print(ctx: Ctx, a: &BenchArgs, load_secs: f64, run_secs: f64, rows: &[(&str, &Histogram<u64>)]) {
    let pct = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q);
    if ctx.format == Format::Json {
        let ops: Vec<_> = rows
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(name, h)| json!({"op": name, "count": h.len(), "p50_us": pct(h, 0.5), "p90_us": pct(h, 0.9), "p99_us": pct(h, 0.99), "p999_us": pct(h, 0.999), "max_us": h.max()}))
            .collect();
        let doc = json!({"url_backend": a.url.split(':').next(), "workload": format!("{:?}", a.workload), "records": a.records, "load_keys_per_second": (a.records as f64 / load_secs).round(), "ops": a.ops, "tasks": a.tasks, "ops_per_second": (a.ops as f64 / run_secs).round(), "latency": ops});
        println!("{doc}");
        return;
    }
    println!(
        "load: {} keys in {load_secs:.2} s ({:.0} keys/s)",
        a.records,
        a.records as f64 / load_secs
    );
    println!(
        "run: workload {:?}, {} ops, {} tasks, {run_secs:.2} s ({:.0} ops/s)",
        a.workload,
        a.ops,
        a.tasks,
        a.ops as f64 / run_secs
    );
    println!(
        "{:<8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "op", "count", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us"
    );
    for (name, h) in rows.iter().filter(|(_, h)| !h.is_empty()) {
        println!(
            "{name:<8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            h.len(),
            pct(h, 0.5),
            pct(h, 0.9),
            pct(h, 0.99),
            pct(h, 0.999),
            h.max()
        );
    }
}
