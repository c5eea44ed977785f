//! Configuration of a [`SortedVecBackend`](crate::SortedVecBackend), and the
//! capabilities a backend opened with it declares.

use backend_api::{Capabilities, DEFAULT_MAX_KEY_LEN, DEFAULT_MAX_VALUE_LEN};

/// How a [`SortedVecBackend`](crate::SortedVecBackend) is made: built with
/// [`SortedVecConfig::new`] and changed with setters.
///
/// ```
/// use third_party_backend::SortedVecConfig;
/// let config = SortedVecConfig::new().max_value_len(4096);
/// assert_eq!(config.capabilities().max_value_len, 4096);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SortedVecConfig {
    /// Longest value accepted, in bytes. Default: the contract's 16 MiB.
    pub max_value_len: usize,
}

impl SortedVecConfig {
    /// The defaults.
    pub fn new() -> Self {
        SortedVecConfig {
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }

    /// Sets [`max_value_len`](Self::max_value_len).
    pub fn max_value_len(mut self, bytes: usize) -> Self {
        self.max_value_len = bytes;
        self
    }

    /// What a backend made with this configuration offers: the one place its
    /// capabilities are declared. Only what the engine does natively: no CAS,
    /// conditional batch, range delete, watch or TTL.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            ordered_scan: true,
            reverse_scan: true,
            atomic_batch: true,
            cross_partition_batch: true,
            exact_len: true,
            max_key_len: DEFAULT_MAX_KEY_LEN,
            max_value_len: self.max_value_len,
            ..Capabilities::default()
        }
    }
}

impl Default for SortedVecConfig {
    fn default() -> Self {
        Self::new()
    }
}
