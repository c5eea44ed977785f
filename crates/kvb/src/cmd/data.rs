//! partitions, get, put, del, scan, watch, compact.

use std::io::Read;

use backend_api::{PutOptions, ScanRange, WatchEvent};
use futures_util::StreamExt;
use serde_json::json;

use super::{Ctx, duration, partition, with_store};
use crate::cli::ScanArgs;
use crate::error::{CliError, CliResult, Code};
use crate::output::{self, Format, json_bytes};

pub async fn partitions(
    ctx: Ctx,
    url: &str,
    create: Option<String>,
    drop: Option<String>,
) -> CliResult {
    with_store(url, async |s| {
        if let Some(name) = create {
            return Ok(s.create_partition(&partition(&name)?).await?);
        }
        if let Some(name) = drop {
            return Ok(s.drop_partition(&partition(&name)?).await?);
        }
        let names: Vec<String> = s
            .list_partitions()
            .await?
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        match ctx.format {
            Format::Json => println!("{}", json!(names)),
            _ => names.iter().for_each(|n| println!("{n}")),
        }
        Ok(())
    })
    .await
}

pub async fn get(ctx: Ctx, url: &str, part: &str, key: &str) -> CliResult {
    let (p, key) = (partition(part)?, ctx.arg_bytes("KEY", key)?);
    with_store(url, async |s| match s.get(&p, &key).await? {
        Some(v) => {
            println!("{}", output::bytes(ctx.format, &v));
            Ok(())
        }
        None => Err(CliError::new(
            Code::NotFound,
            format!("key {} not found in partition {part}", output::text(&key)),
        )),
    })
    .await
}

pub async fn put(
    ctx: Ctx,
    url: &str,
    part: &str,
    key: &str,
    value: &str,
    ttl: Option<String>,
) -> CliResult {
    let (p, key) = (partition(part)?, ctx.arg_bytes("KEY", key)?);
    let value = if value == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        buf.into()
    } else {
        ctx.arg_bytes("VALUE", value)?
    };
    let options = match ttl {
        Some(t) => PutOptions::with_ttl(duration("--ttl", &t)?),
        None => PutOptions::default(),
    };
    with_store(url, async |s| {
        s.create_partition(&p).await?;
        Ok(s.put_with(&p, &key, &value, options).await?)
    })
    .await
}

pub async fn del(ctx: Ctx, url: &str, part: &str, keys: &[String]) -> CliResult {
    let p = partition(part)?;
    let keys = keys
        .iter()
        .map(|k| ctx.arg_bytes("KEY", k))
        .collect::<CliResult<Vec<_>>>()?;
    with_store(url, async |s| {
        for k in &keys {
            s.delete(&p, k).await?;
        }
        Ok(())
    })
    .await
}

pub async fn scan(ctx: Ctx, a: ScanArgs) -> CliResult {
    let p = partition(&a.partition)?;
    let mut range = ScanRange::all();
    if let Some(x) = &a.prefix {
        range.prefix = Some(ctx.arg_bytes("--prefix", x)?);
    }
    if let Some(x) = &a.start {
        range = range.start(ctx.arg_bytes("--start", x)?);
    }
    if let Some(x) = &a.end {
        range = range.end(ctx.arg_bytes("--end", x)?);
    }
    if let Some(n) = a.limit {
        range = range.limit(n);
    }
    if a.reverse {
        range = range.reverse();
    }
    if a.keys_only {
        range = range.keys_only();
    }
    with_store(&a.url, async |s| {
        let mut stream = s.scan(&p, range).await?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        while let Some(item) = stream.next().await {
            let (k, v) = item?;
            let line = output::pair(ctx.format, &k, (!a.keys_only).then_some(&v[..]));
            std::io::Write::write_all(&mut out, line.as_bytes())?;
            std::io::Write::write_all(&mut out, b"\n")?;
        }
        std::io::Write::flush(&mut out)?;
        Ok(())
    })
    .await
}

pub async fn watch(
    ctx: Ctx,
    url: &str,
    part: &str,
    prefix: &str,
    count: Option<u64>,
    timeout: Option<String>,
) -> CliResult {
    let p = partition(part)?;
    let prefix = ctx.arg_bytes("--prefix", prefix)?;
    let deadline = timeout.map(|t| duration("--timeout", &t)).transpose()?;
    with_store(url, async |s| {
        let mut stream = s.watch(&p, &prefix).await?;
        let mut seen = 0u64;
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        while count.is_none_or(|c| seen < c) {
            let event = tokio::select! {
                e = stream.next() => e,
                () = &mut sleep => break,
            };
            let Some(event) = event else { break };
            println!("{}", event_line(ctx.format, &event?));
            seen += 1;
        }
        Ok(())
    })
    .await
}

fn event_line(f: Format, e: &WatchEvent) -> String {
    let bound = |b: &Option<bytes::Bytes>| {
        b.as_deref()
            .map(|b| output::bytes(f, b))
            .unwrap_or_default()
    };
    match (f, e) {
        (Format::Json, WatchEvent::Put { key, value }) => json!({"event": "put", "key": json_bytes(key), "value": json_bytes(value)}).to_string(),
        (Format::Json, WatchEvent::Delete { key }) => json!({"event": "delete", "key": json_bytes(key)}).to_string(),
        (Format::Json, WatchEvent::RangeDeleted { range }) => json!({"event": "range_deleted", "start": range.start.as_deref().map(json_bytes), "end": range.end.as_deref().map(json_bytes)}).to_string(),
        (Format::Json, WatchEvent::Lagged(n)) => json!({"event": "lagged", "dropped": n}).to_string(),
        (_, WatchEvent::Put { key, value }) => format!("put\t{}\t{}", output::bytes(f, key), output::bytes(f, value)),
        (_, WatchEvent::Delete { key }) => format!("delete\t{}", output::bytes(f, key)),
        (_, WatchEvent::RangeDeleted { range }) => format!("range_deleted\t{}\t{}", bound(&range.start), bound(&range.end)),
        (_, WatchEvent::Lagged(n)) => format!("lagged\t{n}"),
        (Format::Json, _) => json!({"event": "unknown"}).to_string(),
        _ => "unknown".to_owned(),
    }
}

pub async fn compact(url: &str, part: &str) -> CliResult {
    let p = partition(part)?;
    with_store(url, async |s| Ok(s.compact(&p).await?)).await
}
