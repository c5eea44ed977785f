//! Scans of large partitions keep the client's memory bounded.
//!
//! Measurement: the data is generated server-side by a Lua script (so it never passes
//! through this process), the kernel's peak-RSS counter is reset by writing `5` to
//! `/proc/self/clear_refs`, the whole partition is scanned with values, and the growth
//! of `VmHWM` (peak resident set) over the `VmRSS` before the scan is compared with the
//! size of the data scanned. Linux only.
//!
//! The default run scans 100,000 keys with 1 KiB values (about 100 MiB of pairs); the
//! 1,000,000-key case is ignored by default for time (the attribute says why);
//! `scripts/test.sh` runs it with `cargo test -p backend-redis --test scan_memory -- --ignored`.

mod common;

use std::time::Instant;

use backend_api::{Partition, ScanRange, StorageBackend};
use futures_util::StreamExt;

/// Writes `count` keys (`%09d` of 0..count) with `value_len`-byte values straight into
/// the partition's documented layout (value keys plus index entries).
const POPULATE: &str = r#"
local prefix, first, last, value = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), string.rep('v', tonumber(ARGV[4]))
for i = first, last do
  local key = string.format('%09d', i)
  redis.call('SET', prefix .. key, value)
  redis.call('ZADD', KEYS[1], 0, key)
end
return last - first + 1
"#;

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing from /proc/self/status"))
}

async fn scan_bounded(count: u64, value_len: u64, max_growth_mib: u64) {
    let namespace = common::fresh_namespace();
    let store = common::open(&namespace).await.unwrap();
    let p = Partition::new("big").unwrap();
    store.create_partition(&p).await.unwrap();

    let client = redis::Client::open(common::shared_url()).unwrap();
    let slow = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(60)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&slow)
        .await
        .unwrap();
    let script = redis::Script::new(POPULATE);
    let index = format!("kvb:{{{namespace}:big}}:i");
    let prefix = format!("kvb:{{{namespace}:big}}:v:");
    let started = Instant::now();
    let mut first = 0;
    while first < count {
        let last = (first + 20_000).min(count) - 1;
        let _: u64 = script
            .key(&index)
            .arg(&prefix)
            .arg(first)
            .arg(last)
            .arg(value_len)
            .invoke_async(&mut conn)
            .await
            .unwrap();
        first = last + 1;
    }
    eprintln!("populated {count} keys in {:?}", started.elapsed());

    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS counter");
    let before = proc_status_kib("VmRSS:");
    let started = Instant::now();
    let mut stream = store.scan(&p, ScanRange::all()).await.unwrap();
    let (mut seen, mut bytes) = (0u64, 0u64);
    let mut last: Option<backend_api::Bytes> = None;
    while let Some(item) = stream.next().await {
        let (key, value) = item.unwrap();
        assert!(
            last.as_ref().is_none_or(|l| *l < key),
            "order broken at {key:?}"
        );
        assert_eq!(value.len() as u64, value_len);
        bytes += (key.len() + value.len()) as u64;
        seen += 1;
        last = Some(key);
    }
    let elapsed = started.elapsed();
    let peak = proc_status_kib("VmHWM:");
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "scanned {seen} keys ({} MiB of pairs) in {elapsed:?}: RSS before {} MiB, peak {} MiB, growth {growth_mib} MiB",
        bytes >> 20,
        before / 1024,
        peak / 1024
    );
    assert_eq!(seen, count);
    assert!(
        growth_mib < max_growth_mib,
        "peak RSS grew {growth_mib} MiB while scanning {} MiB: the scan is not bounded",
        bytes >> 20
    );
    store.drop_partition(&p).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_100k_keys_of_1kib_keeps_memory_bounded() {
    scan_bounded(100_000, 1024, 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: populates and scans 1M keys (about 30 s); run with --ignored"]
async fn scanning_1m_keys_keeps_memory_bounded() {
    scan_bounded(1_000_000, 100, 32).await;
}
