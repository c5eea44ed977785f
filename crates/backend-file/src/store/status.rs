//! The figures `status()` reports.

use std::sync::atomic::Ordering;

use backend_api::Status;
use backend_support::ttl;

use super::Store;
use crate::files::data_name;

impl Store {
    /// Sizes, counts, the active file, fsyncs, merges, what recovery did.
    pub fn status(&self) -> Status {
        let mut s = Status::new();
        let mut put = |k: &str, v: String| {
            s.insert(k.to_owned(), v);
        };
        {
            let st = self.state.read();
            let now = ttl::now_ms();
            put("live_bytes", st.live_bytes.to_string());
            put("dead_bytes", st.dead_bytes().to_string());
            put("total_bytes", st.total_bytes.to_string());
            put("file_count", st.files.len().to_string());
            put("partitions", st.parts.len().to_string());
            let keys: u64 = st.parts.values().map(|p| p.live_len(now)).sum();
            put("key_count", keys.to_string());
            put("keydir_bytes", st.keydir_bytes().to_string());
        }
        put("value_cache_bytes", self.cache.bytes().to_string());
        {
            let w = self.writer.lock();
            let active = w
                .file
                .as_ref()
                .map_or("none".into(), |_| data_name(w.file_id));
            put("active_file", active);
            put("next_seq", w.next_seq.to_string());
        }
        put("fsyncs", self.commit.syncs().to_string());
        put(
            "syncs_ahead",
            self.bg.syncs_ahead.load(Ordering::Relaxed).to_string(),
        );
        put("poisoned", self.commit.is_poisoned().to_string());
        put("merges", self.bg.merges.load(Ordering::Relaxed).to_string());
        match &*self.bg.last_merge.lock() {
            Some(m) => {
                put("last_merge_at_ms", m.finished_at_ms.to_string());
                put("last_merge_micros", m.micros.to_string());
                put("last_merge_bytes_in", m.bytes_in.to_string());
                put("last_merge_bytes_out", m.bytes_out.to_string());
            }
            None => put("last_merge_at_ms", "never".into()),
        }
        let r = &self.report;
        put("recovery_hints_loaded", r.hints_loaded.to_string());
        put("recovery_files_scanned", r.files_scanned.to_string());
        put("recovery_truncated_tails", r.truncated.len().to_string());
        put("recovery_dropped_ranges", r.dropped.len().to_string());
        put(
            "rotation_hints_written",
            self.bg.hints_written.load(Ordering::Relaxed).to_string(),
        );
        put("sync_policy", format!("{:?}", self.cfg.sync));
        s
    }
}
