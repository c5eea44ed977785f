//! What a backend can do, and its limits.

use crate::{Check, Error, KeyRange, Operation, Result, ScanRange};

/// Default [`Capabilities::max_key_len`]: 1 KiB.
pub const DEFAULT_MAX_KEY_LEN: usize = 1024;
/// Default [`Capabilities::max_value_len`]: 16 MiB.
pub const DEFAULT_MAX_VALUE_LEN: usize = 16 << 20;

/// The promises a backend keeps natively. An operation whose capability is false
/// answers [`Error::Unsupported`]; it is never emulated.
///
/// Build it with struct update syntax so new fields get their defaults:
///
/// ```
/// use backend_api::Capabilities;
/// let caps = Capabilities { ordered_scan: true, ttl: true, ..Capabilities::default() };
/// assert!(!caps.watch);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Scans return keys in unsigned byte-wise order.
    pub ordered_scan: bool,
    /// Scans can run in descending order (`ScanRange::reverse`).
    pub reverse_scan: bool,
    /// A scan sees one point-in-time view: writes made during it never show.
    pub snapshot_scan: bool,
    /// `batch` is all-or-nothing and no reader sees half of one.
    pub atomic_batch: bool,
    /// One `batch` or `conditional_batch` may name several partitions (atomically so
    /// when `atomic_batch`). When false, such a call answers [`Error::Unsupported`].
    pub cross_partition_batch: bool,
    /// `compare_and_swap` is offered and atomic.
    pub compare_and_swap: bool,
    /// `conditional_batch` is offered: its checks and writes are one atomic step.
    pub conditional_batch: bool,
    /// Batches accept [`Operation::DeleteRange`].
    pub range_delete: bool,
    /// `watch` is offered.
    pub watch: bool,
    /// `watch` sees writes made through other handles and processes.
    pub cross_process_watch: bool,
    /// `PutOptions::ttl` is honoured.
    pub ttl: bool,
    /// Data outlives the handle: reopening finds it again.
    pub persistent: bool,
    /// `compact` does real work.
    pub compact: bool,
    /// `len` is exact rather than an estimate.
    pub exact_len: bool,
    /// Longest key accepted, in bytes.
    pub max_key_len: usize,
    /// Longest value accepted, in bytes.
    pub max_value_len: usize,
}

impl Default for Capabilities {
    /// Nothing optional, default limits.
    fn default() -> Self {
        Capabilities {
            ordered_scan: false,
            reverse_scan: false,
            snapshot_scan: false,
            atomic_batch: false,
            cross_partition_batch: false,
            compare_and_swap: false,
            conditional_batch: false,
            range_delete: false,
            watch: false,
            cross_process_watch: false,
            ttl: false,
            persistent: false,
            compact: false,
            exact_len: false,
            max_key_len: DEFAULT_MAX_KEY_LEN,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }
}

impl Capabilities {
    /// [`Error::InvalidKey`] unless `1 <= key.len() <= max_key_len`.
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidKey {
                reason: "keys must not be empty".into(),
            });
        }
        if key.len() > self.max_key_len {
            return Err(Error::InvalidKey {
                reason: format!(
                    "key is {} bytes, the limit is {}",
                    key.len(),
                    self.max_key_len
                ),
            });
        }
        Ok(())
    }

    /// [`Error::InvalidValue`] unless `value.len() <= max_value_len`.
    pub fn check_value(&self, value: &[u8]) -> Result<()> {
        if value.len() > self.max_value_len {
            return Err(Error::InvalidValue {
                reason: format!(
                    "value is {} bytes, the limit is {}",
                    value.len(),
                    self.max_value_len
                ),
            });
        }
        Ok(())
    }

    /// [`Error::InvalidKey`] unless every bound of `range` is a valid key.
    pub fn check_range(&self, range: &KeyRange) -> Result<()> {
        for bound in [&range.start, &range.end].into_iter().flatten() {
            self.check_key(bound)?;
        }
        Ok(())
    }

    /// [`Error::InvalidKey`] unless `prefix` is at most `max_key_len` bytes (an empty
    /// prefix, meaning every key, is fine).
    pub fn check_prefix(&self, prefix: &[u8]) -> Result<()> {
        if prefix.len() > self.max_key_len {
            return Err(Error::InvalidKey {
                reason: format!(
                    "prefix is {} bytes, the limit is {}",
                    prefix.len(),
                    self.max_key_len
                ),
            });
        }
        Ok(())
    }

    /// [`Error::InvalidKey`] unless a scan's `start` and `end` (when given) are valid
    /// keys and its `prefix` is no longer than a key.
    pub fn check_scan_range(&self, range: &ScanRange) -> Result<()> {
        for bound in [&range.start, &range.end].into_iter().flatten() {
            self.check_key(bound)?;
        }
        range
            .prefix
            .as_deref()
            .map_or(Ok(()), |p| self.check_prefix(p))
    }

    /// Checks the arguments of a compare-and-swap: the key, and the new value if any.
    pub fn check_cas(&self, key: &[u8], new: Option<&[u8]>) -> Result<()> {
        self.check_key(key)?;
        new.map_or(Ok(()), |v| self.check_value(v))
    }

    /// Checks the key of one condition of a conditional batch.
    pub fn check_check(&self, check: &Check) -> Result<()> {
        self.check_key(&check.key)
    }

    /// Checks one batch operation: its key (or range bounds), value, and that the
    /// backend offers what it asks for (TTL, range delete), in that order.
    pub fn check_operation(&self, op: &Operation, backend: &'static str) -> Result<()> {
        match op {
            Operation::Put {
                key,
                value,
                options,
                ..
            } => {
                self.check_key(key)?;
                self.check_value(value)?;
                if options.ttl.is_some() && !self.ttl {
                    return Err(Error::unsupported(backend, "ttl"));
                }
            }
            Operation::Delete { key, .. } => self.check_key(key)?,
            Operation::DeleteRange { range, .. } => {
                self.check_range(range)?;
                if !self.range_delete {
                    return Err(Error::unsupported(backend, "range_delete"));
                }
            }
        }
        Ok(())
    }
}
