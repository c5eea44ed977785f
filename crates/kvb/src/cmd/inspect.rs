//! stats and verify.

use std::path::PathBuf;

use backend_api::Capabilities;
use kv_transfer::{Block, DumpReader, digest_partition};
use serde_json::{Map, Value, json};

use super::{Ctx, with_store};
use crate::bar::Bar;
use crate::error::{CliError, CliResult, Code};
use crate::output::Format;

fn capability_names(c: &Capabilities) -> Vec<&'static str> {
    let flags = [
        ("ordered_scan", c.ordered_scan),
        ("reverse_scan", c.reverse_scan),
        ("snapshot_scan", c.snapshot_scan),
        ("atomic_batch", c.atomic_batch),
        ("compare_and_swap", c.compare_and_swap),
        ("conditional_batch", c.conditional_batch),
        ("range_delete", c.range_delete),
        ("watch", c.watch),
        ("cross_process_watch", c.cross_process_watch),
        ("ttl", c.ttl),
        ("persistent", c.persistent),
        ("compact", c.compact),
        ("exact_len", c.exact_len),
    ];
    flags
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect()
}

pub async fn stats(ctx: Ctx, url: &str) -> CliResult {
    with_store(url, async |s| {
        let caps = s.capabilities();
        let status = s.status().await?;
        let mut parts = Vec::new();
        for p in s.list_partitions().await? {
            parts.push((
                p.name().to_owned(),
                s.len(&p).await?,
                s.partition_size(&p).await?,
            ));
        }
        if ctx.format == Format::Json {
            let partitions: Map<String, Value> = parts
                .iter()
                .map(|(n, k, b)| (n.clone(), json!({"keys": k, "bytes": b})))
                .collect();
            let doc = json!({
                "backend": s.name(),
                "capabilities": capability_names(&caps),
                "max_key_len": caps.max_key_len,
                "max_value_len": caps.max_value_len,
                "partitions": partitions,
                "status": status,
            });
            println!("{doc}");
        } else {
            println!("backend\t{}", s.name());
            println!("capabilities\t{}", capability_names(&caps).join(","));
            println!("max_key_len\t{}", caps.max_key_len);
            println!("max_value_len\t{}", caps.max_value_len);
            for (n, k, b) in &parts {
                println!("partition\t{n}\t{k} keys\t{b} bytes");
            }
            for (k, v) in &status {
                println!("status\t{k}\t{v}");
            }
        }
        Ok(())
    })
    .await
}

pub async fn verify(ctx: Ctx, url: Option<String>, dump: Option<PathBuf>) -> CliResult {
    match (url, dump) {
        (_, Some(path)) => verify_dump(ctx, &path),
        (Some(url), None) => verify_store(ctx, &url).await,
        (None, None) => Err(CliError::new(Code::Usage, "give a URL or --dump FILE")),
    }
}

fn print_partition(ctx: Ctx, name: &str, d: &kv_transfer::Digest) {
    match ctx.format {
        Format::Json => println!(
            "{}",
            json!({"partition": name, "keys": d.keys, "bytes": d.bytes, "blake3": d.hex()})
        ),
        _ => println!(
            "{name}\t{} keys\t{} bytes\tblake3 {}",
            d.keys,
            d.bytes,
            d.hex()
        ),
    }
}

fn verify_dump(ctx: Ctx, path: &PathBuf) -> CliResult {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::new(Code::Failed, format!("{}: {e}", path.display())))?;
    let mut reader = DumpReader::new(std::io::BufReader::with_capacity(1 << 20, file))?;
    let mut name = String::new();
    while let Some(block) = reader.next_block()? {
        match block {
            Block::PartitionBegin(n) => name = n,
            Block::PartitionEnd(d) => print_partition(ctx, &name, &d),
            Block::Records(_) => {}
        }
    }
    Ok(())
}

async fn verify_store(ctx: Ctx, url: &str) -> CliResult {
    verify_files(ctx, url)?;
    with_store(url, async |s| {
        let bar = Bar::new(ctx.quiet, None);
        let mut done = 0u64;
        for p in s.list_partitions().await? {
            let d = digest_partition(s.as_ref(), &p, |n| {
                done += n;
                bar.set(done, p.name());
            })
            .await?;
            bar.finish();
            print_partition(ctx, p.name(), &d);
        }
        bar.finish();
        Ok(())
    })
    .await
}

/// For `file://`, the checksum pass over every file; other backends check on read.
#[cfg(feature = "file")]
fn verify_files(ctx: Ctx, url: &str) -> CliResult {
    let backend_url::BackendConfig::File(config) = backend_url::BackendConfig::from_url(url)?
    else {
        return Ok(());
    };
    let report = backend_file::verify_dir(&config)
        .map_err(|e| CliError::new(Code::Failed, format!("{}: {e}", config.dir.display())))?;
    for i in &report.issues {
        let kind = if i.corrupt { "corrupt" } else { "warning" };
        match ctx.format {
            Format::Json => println!(
                "{}",
                json!({"issue": kind, "file": i.file.display().to_string(), "offset": i.offset, "detail": i.detail})
            ),
            _ => eprintln!(
                "{kind}: {}: offset {}: {}",
                i.file.display(),
                i.offset,
                i.detail
            ),
        }
    }
    if !report.is_clean() {
        let first = report
            .issues
            .iter()
            .find(|i| i.corrupt)
            .map_or(String::new(), |i| {
                format!(
                    "; first: {} offset {}: {}",
                    i.file.display(),
                    i.offset,
                    i.detail
                )
            });
        return Err(CliError::new(
            Code::Check,
            format!(
                "{} corrupt record(s) in {}{first}",
                report.issues.iter().filter(|i| i.corrupt).count(),
                config.dir.display()
            ),
        ));
    }
    if ctx.format != Format::Json {
        eprintln!(
            "files ok: {} files, {} records, {} bytes checked",
            report.files, report.records, report.bytes
        );
    }
    Ok(())
}

#[cfg(not(feature = "file"))]
fn verify_files(_ctx: Ctx, _url: &str) -> CliResult {
    Ok(())
}
