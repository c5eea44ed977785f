//! The command line (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::Format;

/// Look inside, check, benchmark and move data between kv-backends stores.
///
/// Every store is named by a URL: mem://, file:///path?sync=always, sled:///path,
/// rocks:///path (the default `rocks` feature), redis://host:port/db, rediss://...
///
/// Exit codes: 0 success, 1 not found, 2 bad arguments or URL, 3 backend or I/O
/// failure, 4 a check failed (corruption, mismatch), 5 interrupted.
#[derive(Debug, Parser)]
#[command(name = "kvb", version, max_term_width = 100)]
pub struct Cli {
    /// How keys and values are printed.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// KEY, VALUE, --prefix, --start and --end arguments are hex.
    #[arg(short = 'x', long, global = true)]
    pub hex_args: bool,
    /// No progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List partitions (or create / drop one).
    Partitions {
        url: String,
        /// Create this partition.
        #[arg(long, conflicts_with = "drop")]
        create: Option<String>,
        /// Drop this partition and all its keys.
        #[arg(long)]
        drop: Option<String>,
    },
    /// Print a key's value (exit 1 if absent).
    Get {
        url: String,
        partition: String,
        key: String,
    },
    /// Set a key (creates the partition if missing). VALUE `-` reads stdin.
    Put {
        url: String,
        partition: String,
        key: String,
        value: String,
        /// Expire after this long: 500ms, 30s, 10m, 2h.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Delete keys (absent keys are fine).
    Del {
        url: String,
        partition: String,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print pairs in key order.
    Scan(ScanArgs),
    /// Print every put and delete under a prefix as it happens.
    Watch {
        url: String,
        partition: String,
        #[arg(long, default_value = "")]
        prefix: String,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this long (500ms, 30s, 10m).
        #[arg(long)]
        timeout: Option<String>,
    },
    /// Capabilities, backend figures, and keys and bytes per partition.
    Stats { url: String },
    /// Reclaim space in a partition (merge, compaction).
    Compact { url: String, partition: String },
    /// Read everything back and check it: for file:// a checksum pass over every file
    /// first, reporting any corruption with file and offset; then a digest per
    /// partition. With --dump, check a dump file instead.
    Verify {
        #[arg(required_unless_present = "dump")]
        url: Option<String>,
        /// Check this dump file (every block, digest and the trailer).
        #[arg(long, conflicts_with = "url")]
        dump: Option<PathBuf>,
    },
    /// Write a portable dump of a store (`-` for stdout).
    Dump {
        url: String,
        file: PathBuf,
        /// Only this partition (repeatable).
        #[arg(short, long = "partition")]
        partitions: Vec<String>,
        /// zstd level (1-22); 0 stores blocks uncompressed.
        #[arg(long, default_value_t = 3)]
        zstd: i32,
    },
    /// Load a dump into a store (`-` for stdin); refuses non-empty partitions unless
    /// --merge.
    Restore {
        file: PathBuf,
        url: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Copy every pair from SRC to DST, batched and verified; resumable with
    /// --checkpoint.
    Copy {
        src: String,
        dst: String,
        /// Only this partition (repeatable).
        #[arg(short, long = "partition")]
        partitions: Vec<String>,
        /// Save progress here after every batch; running the same copy again resumes
        /// from it. Removed once the copy is verified.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// A short YCSB-like benchmark with latency percentiles (HDR histogram).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Pairs per batch written.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch: u64,
    /// Write into partitions that already hold keys.
    #[arg(long)]
    pub merge: bool,
    /// Skip the final read-back comparison.
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    pub url: String,
    pub partition: String,
    /// Only keys starting with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// First key (inclusive).
    #[arg(long)]
    pub start: Option<String>,
    /// Last key (exclusive).
    #[arg(long)]
    pub end: Option<String>,
    /// At most this many pairs.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Descending order.
    #[arg(long)]
    pub reverse: bool,
    /// Keys only.
    #[arg(long)]
    pub keys_only: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Workload {
    /// 50% reads, 50% updates.
    A,
    /// 95% reads, 5% updates.
    B,
    /// reads only.
    C,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    pub url: String,
    /// The mix of operations.
    #[arg(long, value_enum, default_value_t = Workload::A)]
    pub workload: Workload,
    /// Keys loaded before the run.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub records: u64,
    /// Operations in the run.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: u64,
    /// Concurrent tasks.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub tasks: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=16_777_216))]
    pub value_size: u64,
    /// Partition used (created, then dropped unless --keep).
    #[arg(long, default_value = "kvb_bench")]
    pub partition: String,
    /// Keep the partition afterwards.
    #[arg(long)]
    pub keep: bool,
}
