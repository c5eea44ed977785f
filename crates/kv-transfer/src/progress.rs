//! Progress reports handed to the caller's callback.

use std::ops::ControlFlow;

/// Which part of the work a [`Progress`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Pairs read from the source and written to the dump.
    Dump,
    /// Pairs read from a dump and written to the destination.
    Restore,
    /// Pairs read from the source and written to the destination.
    Copy,
    /// Pairs read back for the final check.
    Verify,
}

/// Where a transfer is. Sent after every batch or block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub phase: Phase,
    /// The partition being worked on.
    pub partition: String,
    /// Pairs done in this phase so far, over every partition.
    pub keys: u64,
    /// Key and value bytes done in this phase so far.
    pub bytes: u64,
    /// Pairs expected in this phase, when the source counts exactly (`exact_len`).
    pub total_keys: Option<u64>,
}

/// The callback: return `ControlFlow::Break(())` to stop (a copy saves its checkpoint
/// first and answers [`TransferError::Interrupted`](crate::TransferError::Interrupted)).
pub type OnProgress<'a> = &'a mut (dyn FnMut(&Progress) -> ControlFlow<()> + Send);

/// A callback that ignores every report.
pub fn ignore(_: &Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}
