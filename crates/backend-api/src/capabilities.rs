//! What a backend can do, and its limits.

use crate::{Error, Operation, Result};

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
    /// `compare_and_swap` is offered and atomic.
    pub compare_and_swap: bool,
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
            compare_and_swap: false,
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

    /// Checks one batch operation's key, value and TTL against these capabilities.
    pub fn check_operation(&self, op: &Operation, backend: &'static str) -> Result<()> {
        self.check_key(op.key())?;
        if let Operation::Put { value, options, .. } = op {
            self.check_value(value)?;
            if options.ttl.is_some() && !self.ttl {
                return Err(Error::unsupported(backend, "ttl"));
            }
        }
        Ok(())
    }
}
