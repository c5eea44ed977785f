//! dump, restore, copy.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use kv_transfer::{Compression, CopyOptions, DumpOptions, RestoreOptions};
use serde_json::json;

use super::{Ctx, open, partitions};
use crate::bar::Bar;
use crate::cli::WriteArgs;
use crate::error::{CliError, CliResult, Code};
use crate::output::Format;

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

pub async fn dump(ctx: Ctx, url: &str, file: &Path, names: &[String], zstd: i32) -> CliResult {
    let mut options = DumpOptions::default();
    options.partitions = partitions(names)?;
    options.compression = match zstd {
        0 => Compression::None,
        1..=22 => Compression::Zstd(zstd),
        _ => {
            return Err(CliError::new(
                Code::Usage,
                format!("--zstd {zstd}: use 0 (off) to 22"),
            ));
        }
    };
    let out: Box<dyn Write + Send> = if is_stdio(file) {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::File::create(file)
                .map_err(|e| CliError::new(Code::Failed, format!("{}: {e}", file.display())))?,
        )
    };
    let src = open(url).await?;
    let bar = Bar::new(ctx.quiet, None);
    let started = Instant::now();
    let result = kv_transfer::dump(
        src.as_ref(),
        BufWriter::with_capacity(1 << 20, out),
        &options,
        &mut bar.callback(),
    )
    .await;
    bar.finish();
    src.close().await?;
    let (_, summary) = result?;
    let (keys, bytes) = totals(&summary);
    if !is_stdio(file) {
        report(
            ctx,
            "dumped",
            keys,
            bytes,
            started,
            summary.partitions.len(),
            &summary.warnings,
        );
    } else {
        warn(&summary.warnings);
    }
    Ok(())
}

pub async fn restore(ctx: Ctx, file: &Path, url: &str, w: &WriteArgs) -> CliResult {
    let input: Box<dyn Read + Send> = if is_stdio(file) {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(file)
                .map_err(|e| CliError::new(Code::Failed, format!("{}: {e}", file.display())))?,
        )
    };
    let mut options = RestoreOptions::default();
    options.batch_keys = w.batch as usize;
    options.merge = w.merge;
    options.verify = !w.no_verify;
    let dst = open(url).await?;
    let bar = Bar::new(ctx.quiet, None);
    let started = Instant::now();
    let result = kv_transfer::restore(
        BufReader::with_capacity(1 << 20, input),
        dst.as_ref(),
        &options,
        &mut bar.callback(),
    )
    .await;
    bar.finish();
    let closed = dst.close().await;
    let summary = result?;
    closed?;
    let (keys, bytes) = totals(&summary);
    report(
        ctx,
        "restored",
        keys,
        bytes,
        started,
        summary.partitions.len(),
        &summary.warnings,
    );
    Ok(())
}

pub async fn copy(
    ctx: Ctx,
    src_url: &str,
    dst_url: &str,
    names: &[String],
    checkpoint: Option<PathBuf>,
    w: &WriteArgs,
) -> CliResult {
    let tag = format!(
        "{} -> {}",
        backend_url::canonical(src_url)?,
        backend_url::canonical(dst_url)?
    );
    let mut options = CopyOptions::default();
    options.partitions = partitions(names)?;
    options.batch_keys = w.batch as usize;
    options.merge = w.merge;
    options.verify = !w.no_verify;
    options.checkpoint = checkpoint;
    options.tag = tag;
    let src = open(src_url).await?;
    let dst = match open(dst_url).await {
        Ok(d) => d,
        Err(e) => {
            let _ = src.close().await;
            return Err(e);
        }
    };
    let bar = Bar::new(ctx.quiet, None);
    let started = Instant::now();
    let result = kv_transfer::copy(src.as_ref(), dst.as_ref(), &options, &mut bar.callback()).await;
    bar.finish();
    let closed = (src.close().await, dst.close().await);
    let r = result?;
    closed.0?;
    closed.1?;
    report(
        ctx,
        "copied",
        r.keys,
        r.bytes,
        started,
        r.partitions,
        &r.warnings,
    );
    Ok(())
}

/// Pairs and key+value bytes over every partition of a dump or restore.
fn totals(summary: &kv_transfer::Summary) -> (u64, u64) {
    summary
        .partitions
        .iter()
        .fold((0, 0), |(k, b), (_, d)| (k + d.keys, b + d.bytes))
}

/// Prints each warning of a transfer to stderr: what could not be carried (TTLs).
fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("kvb: warning: {w}");
    }
}

fn report(
    ctx: Ctx,
    verb: &str,
    keys: u64,
    bytes: u64,
    started: Instant,
    partitions: usize,
    warnings: &[String],
) {
    warn(warnings);
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { keys as f64 / secs } else { 0.0 };
    match ctx.format {
        Format::Json => println!(
            "{}",
            json!({"done": verb, "keys": keys, "bytes": bytes, "partitions": partitions, "seconds": secs, "keys_per_second": rate.round(), "warnings": warnings})
        ),
        _ => println!(
            "{verb} {keys} keys ({bytes} bytes) in {partitions} partitions, {secs:.2} s, {rate:.0} keys/s"
        ),
    }
}
