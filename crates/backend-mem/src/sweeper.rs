//! The background task that reclaims expired entries.
//!
//! It holds only a `Weak` reference to the store: every tick it upgrades, sweeps a
//! bounded number of entries, and lets go again, so dropping or closing the backend
//! ends it at its next tick. Each partition's write lock is held for at most
//! [`SWEEP_LOCK_BATCH`] removals at a time, so readers never wait long.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::store::Inner;

/// The most expired entries removed per write-lock acquisition.
pub const SWEEP_LOCK_BATCH: usize = 128;

/// Starts the sweeper on the current tokio runtime, if there is one. Without a runtime
/// expired entries stay invisible but are reclaimed only when overwritten, deleted or
/// evicted.
pub(crate) fn spawn(inner: Weak<Inner>, interval: Duration) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    runtime.spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(inner) = inner.upgrade() else {
                break;
            };
            if inner.check_open().is_err() {
                break;
            }
            sweep_once(&inner);
        }
    });
    true
}

/// One tick: removes up to `config.sweep_budget` expired entries across partitions.
/// Returns how many it removed.
pub(crate) fn sweep_once(inner: &Inner) -> usize {
    let parts: Vec<_> = inner.parts.read().values().cloned().collect();
    let mut budget = inner.config.sweep_budget;
    let mut removed = 0;
    for part in parts {
        while budget > 0 {
            let now = Instant::now();
            let n = {
                let mut st = part.state.write();
                if st.dropped {
                    break;
                }
                inner.reap(&mut st, now, budget.min(SWEEP_LOCK_BATCH))
            };
            budget -= n;
            removed += n;
            if n < SWEEP_LOCK_BATCH {
                break;
            }
        }
    }
    inner.sweeps.fetch_add(1, Ordering::Relaxed);
    removed
}
