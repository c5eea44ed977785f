//! One module per group of commands; [`run`] dispatches.

mod bench;
mod data;
mod inspect;
mod transfer;

use std::sync::Arc;
use std::time::Duration;

use backend_api::{Partition, StorageBackend};
use bytes::Bytes;

use crate::cli::{Cli, Command};
use crate::error::{CliError, CliResult, Code};
use crate::output::unhex;

/// What every command gets: the global flags.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub format: crate::output::Format,
    pub hex_args: bool,
    pub quiet: bool,
}

impl Ctx {
    /// A KEY/VALUE/prefix argument as bytes (hex with `-x`).
    pub fn arg_bytes(&self, what: &str, text: &str) -> CliResult<Bytes> {
        if self.hex_args {
            unhex(text).map(Bytes::from).ok_or_else(|| {
                CliError::new(
                    Code::Usage,
                    format!("{what} `{text}` is not hex (-x is on)"),
                )
            })
        } else {
            Ok(Bytes::copy_from_slice(text.as_bytes()))
        }
    }
}

/// Runs the command.
pub async fn run(cli: Cli) -> CliResult {
    let ctx = Ctx {
        format: cli.output,
        hex_args: cli.hex_args,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Partitions { url, create, drop } => {
            data::partitions(ctx, &url, create, drop).await
        }
        Command::Get {
            url,
            partition,
            key,
        } => data::get(ctx, &url, &partition, &key).await,
        Command::Put {
            url,
            partition,
            key,
            value,
            ttl,
        } => data::put(ctx, &url, &partition, &key, &value, ttl).await,
        Command::Del {
            url,
            partition,
            keys,
        } => data::del(ctx, &url, &partition, &keys).await,
        Command::Scan(args) => data::scan(ctx, args).await,
        Command::Watch {
            url,
            partition,
            prefix,
            count,
            timeout,
        } => data::watch(ctx, &url, &partition, &prefix, count, timeout).await,
        Command::Stats { url } => inspect::stats(ctx, &url).await,
        Command::Compact { url, partition } => data::compact(&url, &partition).await,
        Command::Verify { url, dump } => inspect::verify(ctx, url, dump).await,
        Command::Dump {
            url,
            file,
            partitions,
            zstd,
        } => transfer::dump(ctx, &url, &file, &partitions, zstd).await,
        Command::Restore { file, url, write } => transfer::restore(ctx, &file, &url, &write).await,
        Command::Copy {
            src,
            dst,
            partitions,
            checkpoint,
            write,
        } => transfer::copy(ctx, &src, &dst, &partitions, checkpoint, &write).await,
        Command::Bench(args) => bench::bench(ctx, args).await,
    }
}

/// Opens the store `url` names.
pub async fn open(url: &str) -> CliResult<Arc<dyn StorageBackend>> {
    Ok(backend_url::open(url).await?)
}

/// Runs `work` on the store, then closes it (flushing), whatever `work` answered.
pub async fn with_store<T>(
    url: &str,
    work: impl AsyncFnOnce(&Arc<dyn StorageBackend>) -> CliResult<T>,
) -> CliResult<T> {
    let store = open(url).await?;
    let out = work(&store).await;
    let closed = store.close().await;
    let out = out?;
    closed?;
    Ok(out)
}

/// A partition name argument.
pub fn partition(name: &str) -> CliResult<Partition> {
    Ok(Partition::parse(name)?)
}

/// A duration argument.
pub fn duration(flag: &str, text: &str) -> CliResult<Duration> {
    Ok(backend_url::parse_duration(flag, text)?)
}

/// Partition name arguments.
pub fn partitions(names: &[String]) -> CliResult<Option<Vec<Partition>>> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|n| partition(n))
        .collect::<CliResult<Vec<_>>>()
        .map(Some)
}
