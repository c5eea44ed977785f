//! What a run of the comparison covers: criterion's own arguments read once more, so
//! subjects nobody asked for are never opened or loaded.

use regex::Regex;

use crate::subject::SUBJECTS;
use crate::table::WORKLOADS;
use crate::workloads::Sizes;

/// Criterion options that take a value (so their value is not the filter).
const VALUED: [&str; 15] = [
    "--warm-up-time",
    "--measurement-time",
    "--sample-size",
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--profile-time",
    "--output-format",
    "--color",
    "-c",
    "--plotting-backend",
    "--format",
    "--nresamples",
];

/// The filter and mode of this run.
#[derive(Debug)]
pub struct Plan {
    filter: Option<Regex>,
    exact: Option<String>,
    /// True under `cargo bench` (criterion gets `--bench`), false in test mode.
    pub bench: bool,
}

impl Plan {
    /// Reads `args` (without the program name) the way criterion does.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Plan {
        let args: Vec<String> = args.into_iter().collect();
        let mut filter = None;
        let mut skip_next = false;
        for a in &args {
            if skip_next {
                skip_next = false;
                continue;
            }
            if VALUED.contains(&a.as_str()) {
                skip_next = true;
            } else if !a.starts_with('-') && filter.is_none() {
                filter = Some(a.clone());
            }
        }
        let bench = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
        let exact = args.iter().any(|a| a == "--exact");
        Plan {
            filter: filter
                .as_deref()
                .filter(|_| !exact)
                .map(|f| Regex::new(f).unwrap_or_else(|e| panic!("filter {f:?}: {e}"))),
            exact: filter.filter(|_| exact),
            bench,
        }
    }

    /// True when a filter narrows the run.
    pub fn is_filtered(&self) -> bool {
        self.filter.is_some() || self.exact.is_some()
    }

    /// True when criterion will run `workload/subject`.
    pub fn matches(&self, workload: &str, subject: &str) -> bool {
        let id = format!("{workload}/{subject}");
        match (&self.filter, &self.exact) {
            (Some(re), _) => re.is_match(&id),
            (None, Some(exact)) => id == *exact,
            (None, None) => true,
        }
    }

    /// True when some supported workload of `subject` is in the run.
    pub fn wants_subject(&self, subject: &str) -> bool {
        WORKLOADS
            .iter()
            .any(|w| w.skip_reason(subject).is_none() && self.matches(w.id, subject))
    }

    /// True when some subject runs `workload`.
    pub fn wants_workload(&self, workload: &str) -> bool {
        SUBJECTS.iter().any(|s| self.matches(workload, s))
    }

    /// Data set sizes for this mode.
    pub fn sizes(&self) -> Sizes {
        if self.bench { Sizes::FULL } else { Sizes::TEST }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Plan {
        Plan::from_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn filter_skips_option_values() {
        let p = plan(&["--bench", "--warm-up-time", "0.5", "get_100B"]);
        assert!(p.bench);
        assert!(p.matches("get_100B", "rocks"));
        assert!(!p.matches("put_100B", "rocks"));
        assert!(p.wants_subject("raw_dash"));
        assert!(!p.wants_workload("put_1KiB"));
    }

    #[test]
    fn subject_filter_and_test_mode() {
        let p = plan(&["/sled$"]);
        assert!(!p.bench);
        assert!(p.wants_subject("sled"));
        assert!(!p.wants_subject("raw_sled"));
        assert!(plan(&[]).wants_subject("null"));
        let exact = plan(&["--exact", "get_100B/mem"]);
        assert!(exact.matches("get_100B", "mem") && !exact.matches("get_100B", "file"));
        // No subject runs a workload it cannot do.
        assert!(!plan(&["scan_1k_fwd/raw_dash"]).wants_subject("raw_dash"));
    }
}
