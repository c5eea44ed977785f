//! What a run explored, summed over runs for the report.

/// What a run explored.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Power cuts after which the store was reopened and checked.
    pub crash_points: u64,
    /// Cuts that struck while a store was recovering (reopened again after).
    pub cuts_in_recovery: u64,
    /// Steps run.
    pub steps: u64,
    /// Writes whose outcome a cut or a failure left unknown.
    pub in_flight: u64,
    /// Torn tails recovery cut back.
    pub torn_tails: u64,
    /// Interrupted merges recovery finished.
    pub merges_finished: u64,
    /// Hint files recovery rejected.
    pub hints_rejected: u64,
    /// Clean reopens checked for exact contents.
    pub clean_reopens: u64,
}

impl Stats {
    /// Adds `o` to these.
    pub fn add(&mut self, o: &Stats) {
        self.crash_points += o.crash_points;
        self.cuts_in_recovery += o.cuts_in_recovery;
        self.steps += o.steps;
        self.in_flight += o.in_flight;
        self.torn_tails += o.torn_tails;
        self.merges_finished += o.merges_finished;
        self.hints_rejected += o.hints_rejected;
        self.clean_reopens += o.clean_reopens;
    }
}
