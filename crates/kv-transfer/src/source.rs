//! Reading a source with each key's deadline, and saying so when it cannot.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_api::{Entry, EntryStream, Error, Partition, ScanRange, StorageBackend};
use futures_util::StreamExt;

use crate::{Result, TransferError};

/// Opens a scan of `range` in `p` whose entries carry their deadlines
/// ([`StorageBackend::scan_entries`]). A source that answers `Unsupported` (it keeps
/// TTLs but cannot report them) is read with the plain scan instead, every entry
/// without a deadline, and [`ttl_fallback`] is pushed to `warnings` (once).
pub(crate) async fn entries(
    src: &dyn StorageBackend,
    p: &Partition,
    range: ScanRange,
    warnings: &mut Vec<String>,
) -> Result<EntryStream> {
    let context = || scan_context(src, p);
    match src.scan_entries(p, range.clone()).await {
        Ok(stream) => Ok(stream),
        Err(Error::Unsupported { .. }) => {
            let warning = ttl_fallback(src.name());
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
            let pairs = src
                .scan(p, range)
                .await
                .map_err(TransferError::backend(context()))?;
            Ok(pairs
                .map(|item| item.map(|(key, value)| Entry::new(key, value, None)))
                .boxed())
        }
        Err(e) => Err(TransferError::backend(context())(e)),
    }
}

/// What a failed read of `partition` in `backend` was doing.
pub(crate) fn scan_context(backend: &dyn StorageBackend, partition: &Partition) -> String {
    format!(
        "scan of partition {} in {}",
        partition.name(),
        backend.name()
    )
}

/// The warning for a source that cannot report TTLs.
pub(crate) fn ttl_fallback(backend: &str) -> String {
    format!(
        "{backend} cannot report TTLs (scan_entries answered Unsupported): its keys were read without deadlines and are written as permanent keys"
    )
}

/// A deadline as the dump format stores it: ms since the Unix epoch, rounded up (a
/// key never expires earlier than its source said), at least 1 (0 means "never").
pub fn deadline_ms(expires_at: Option<SystemTime>) -> u64 {
    let Some(t) = expires_at else { return 0 };
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let ms = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

/// The moment a dump's deadline names (`0`: none); `None` also when it does not fit a
/// `SystemTime` (as far as "never").
pub fn deadline_time(deadline_ms: u64) -> Option<SystemTime> {
    if deadline_ms == 0 {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_millis(deadline_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_never_read_as_none() {
        assert_eq!(deadline_ms(None), 0);
        assert_eq!(deadline_ms(Some(UNIX_EPOCH)), 1, "0 would mean never");
        let t = UNIX_EPOCH + Duration::from_micros(1_500);
        assert_eq!(deadline_ms(Some(t)), 2);
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(deadline_ms(Some(t)), 1_700_000_000_123);
        assert_eq!(deadline_time(1_700_000_000_123), Some(t));
        assert_eq!(deadline_time(0), None);
        assert!(deadline_time(u64::MAX).is_some());
    }
}
