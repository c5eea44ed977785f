//! The one table of workloads: id, what one element is, what a reader must know, how
//! many elements one iteration counts, and which subjects skip it and why. The bench,
//! the plan, the test-mode check and the report all read it, so they never disagree.

/// One workload of the comparison (a criterion group).
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The criterion group name, e.g. `get_100B`.
    pub id: &'static str,
    /// What one element (operation, or key for multi-key calls) is.
    pub description: &'static str,
    /// What a reader needs to know to read the figures, if anything.
    pub caveat: Option<&'static str>,
    /// Elements one iteration counts (criterion's `Throughput::Elements`).
    pub elements: usize,
    /// Why a subject does not run this workload, or `None` if it does.
    skip: fn(&str) -> Option<&'static str>,
}

impl Workload {
    /// Why `subject` does not run this workload, or `None` if it does.
    pub fn skip_reason(&self, subject: &str) -> Option<&'static str> {
        (self.skip)(subject)
    }

    /// True for the workloads that need the strongest sync setting.
    pub fn is_durable(&self) -> bool {
        self.id.starts_with("durable_")
    }
}

pub use crate::SCAN_LEN;

/// Keys in a get_many.
pub const MANY: usize = 16;
/// Puts in a batch.
pub const BATCH: usize = 100;
/// Keys removed by one range delete.
pub const RANGE: usize = 1_000;

fn in_memory(subject: &str) -> bool {
    matches!(subject, "mem" | "raw_btree" | "raw_dash")
}

fn runs_everywhere(_: &str) -> Option<&'static str> {
    None
}

fn needs_order(subject: &str) -> Option<&'static str> {
    (subject == "raw_dash").then_some("DashMap is unordered: no range scan")
}

fn needs_durability(subject: &str) -> Option<&'static str> {
    in_memory(subject).then_some("in memory: nothing to make durable")
}

fn needs_recovery(subject: &str) -> Option<&'static str> {
    if in_memory(subject) || subject == "null" {
        return Some("not persistent: nothing to recover");
    }
    matches!(subject, "redis" | "raw_redis")
        .then_some("recovery is redis-server's own RDB/AOF load, outside the client")
}

fn needs_multi_key_condition(subject: &str) -> Option<&'static str> {
    match subject {
        "raw_dash" => Some("DashMap locks one shard per key: no atomic multi-key step"),
        "raw_log" => Some("an append log has no conditional write of its own"),
        _ => None,
    }
}

fn needs_range_delete(subject: &str) -> Option<&'static str> {
    match subject {
        "sled" => Some(
            "backend-sled declares range_delete false: sled buffers an atomic write whole in \
             memory, so an atomic range delete could not stay in bounded memory",
        ),
        "raw_dash" => Some("DashMap is unordered: no key range"),
        "raw_log" => Some("an append log has no range delete of its own"),
        _ => None,
    }
}

const DURABLE_CAVEAT: &str = "Strongest setting of each: file `SyncPolicy::Always` \
    (concurrent writers share one `fdatasync`); rocks and raw_rocks sync WAL writes; \
    raw_log one `fdatasync` per put (no group commit); redis and raw_redis on a second \
    server with `appendfsync always`; sled a `flush()` after each write, which \
    backend-sled follows with an fsync of its files, raw_sled a bare `flush()` (on Linux \
    sled 0.34's flush ends in `sync_file_range`, which neither flushes the device cache \
    nor the file's metadata, so raw_sled's figures are not those of an fsync). Fsync \
    times on this shared virtual disk vary a lot with other users' I/O.";

const YCSB_CAVEAT: &str = "10k keys; a fixed precomputed request sequence of 65,536 \
    zipfian(0.99) draws, scrambled over the key space; 16 tasks start at different \
    offsets of it.";

const TXN_CAVEAT: &str = "Each transfer reads two of 64 accounts and writes both back \
    only if both still hold what was read (two checks, two puts, one atomic step), \
    retrying on conflict; the total is checked at the end. Backends use \
    `conditional_batch`; raw_btree one write lock, raw_rocks a process-wide mutex around \
    two gets and a `WriteBatch`, raw_sled a sled transaction, raw_redis one Lua script.";

const RANGE_CAVEAT: &str = "Each iteration first writes 1,000 fresh keys (not timed), then \
    times the removal of exactly that range. raw_rocks uses RocksDB's native \
    `delete_range_cf`; raw_btree removes the range under one write lock; raw_sled, \
    without a native range delete, collects the range's keys and applies one batch of \
    removes; raw_redis one Lua script over its sorted-set index.";

/// Every workload, in report order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        id: "get_100B",
        description: "get of a present key, 100 B values, uniform over the 100 B set",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "get_1KiB",
        description: "get of a present key, 1 KiB values",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "get_64KiB",
        description: "get of a present key, 64 KiB values",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "get_missing",
        description: "get of a key never written",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "put_100B",
        description: "put overwriting a present key, 100 B value",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "put_1KiB",
        description: "put overwriting a present key, 1 KiB value",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "put_64KiB",
        description: "put overwriting a present key, 64 KiB value",
        caveat: None,
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "get_many_16",
        description: "get_many of 16 random keys; rate in keys/s",
        caveat: None,
        elements: MANY,
        skip: runs_everywhere,
    },
    Workload {
        id: "scan_1k_fwd",
        description: "ascending scan of a 1,000-key range; rate in keys/s",
        caveat: None,
        elements: SCAN_LEN,
        skip: needs_order,
    },
    Workload {
        id: "scan_1k_rev",
        description: "descending scan of a 1,000-key range; rate in keys/s",
        caveat: None,
        elements: SCAN_LEN,
        skip: needs_order,
    },
    Workload {
        id: "batch_100",
        description: "batch of 100 puts (100 B); rate in keys/s",
        caveat: None,
        elements: BATCH,
        skip: runs_everywhere,
    },
    Workload {
        id: "cas_16",
        description: "16 tasks increment one counter by get + compare_and_swap; rate in \
                      successful increments/s",
        caveat: Some(
            "Raw engines without a native CAS use a lock around get + put (raw_rocks: one \
             process-wide mutex; raw_log: its writer lock); raw_sled uses sled's \
             `compare_and_swap`, raw_redis one Lua script, raw_dash its entry API.",
        ),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "txn_1",
        description: "transfer between two random accounts by a conditional batch (2 checks, \
                      2 puts), 1 task; rate in committed transfers/s",
        caveat: Some(TXN_CAVEAT),
        elements: 1,
        skip: needs_multi_key_condition,
    },
    Workload {
        id: "txn_16",
        description: "the same transfers from 16 tasks over 64 accounts (conflicts retried); \
                      rate in committed transfers/s",
        caveat: Some(TXN_CAVEAT),
        elements: 1,
        skip: needs_multi_key_condition,
    },
    Workload {
        id: "range_delete_1k",
        description: "range delete of 1,000 present keys in one batch; rate in keys/s",
        caveat: Some(RANGE_CAVEAT),
        elements: RANGE,
        skip: needs_range_delete,
    },
    Workload {
        id: "ycsb_a_1",
        description: "YCSB A: 50% get / 50% put, zipfian(0.99) keys, 1 KiB values",
        caveat: Some(YCSB_CAVEAT),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "ycsb_a_16",
        description: "YCSB A: 50% get / 50% put, zipfian(0.99) keys, 1 KiB values",
        caveat: Some(YCSB_CAVEAT),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "ycsb_b_1",
        description: "YCSB B: 95% get / 5% put, zipfian(0.99) keys, 1 KiB values",
        caveat: Some(YCSB_CAVEAT),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "ycsb_b_16",
        description: "YCSB B: 95% get / 5% put, zipfian(0.99) keys, 1 KiB values",
        caveat: Some(YCSB_CAVEAT),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "ycsb_c_1",
        description: "YCSB C: 100% get, zipfian(0.99) keys, 1 KiB values",
        caveat: Some(YCSB_CAVEAT),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "ycsb_c_16",
        description: "YCSB C: 100% get, zipfian(0.99) keys, 1 KiB values",
        caveat: Some(YCSB_CAVEAT),
        elements: 1,
        skip: runs_everywhere,
    },
    Workload {
        id: "durable_put_1",
        description: "put, 100 B, with the strongest sync setting",
        caveat: Some(DURABLE_CAVEAT),
        elements: 1,
        skip: needs_durability,
    },
    Workload {
        id: "durable_put_16",
        description: "put, 100 B, with the strongest sync setting",
        caveat: Some(DURABLE_CAVEAT),
        elements: 1,
        skip: needs_durability,
    },
    Workload {
        id: "open_1m",
        description: "open (recovery) of a cleanly closed store of 1M keys (100 B values); \
                      rate in opens/s",
        caveat: Some(
            "Each store is written once (1,000-key batches) and closed cleanly; no merge \
             or compaction runs before the timed open. The rate is opens per second; the \
             mean time is the open itself (a probe get and the close are not timed).",
        ),
        elements: 1,
        skip: needs_recovery,
    },
];

/// The workload named `id`.
pub fn workload(id: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.id == id)
}

/// Why `subject` does not run workload `id` (`None`: it does, or no such workload).
pub fn skip_reason(id: &str, subject: &str) -> Option<&'static str> {
    workload(id).and_then(|w| w.skip_reason(subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_described() {
        let mut ids: Vec<_> = WORKLOADS.iter().map(|w| w.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), WORKLOADS.len());
        assert!(WORKLOADS.iter().all(|w| !w.description.is_empty()));
    }

    #[test]
    fn skips_follow_the_engine() {
        assert_eq!(skip_reason("get_100B", "raw_dash"), None);
        assert!(skip_reason("scan_1k_fwd", "raw_dash").is_some());
        assert!(skip_reason("durable_put_1", "mem").is_some());
        assert!(skip_reason("open_1m", "redis").is_some());
        assert_eq!(skip_reason("open_1m", "file"), None);
        assert!(skip_reason("txn_16", "raw_log").is_some());
        assert_eq!(skip_reason("range_delete_1k", "raw_rocks"), None);
    }
}
