//! Progress bars on stderr (indicatif), only when stderr is a terminal and not `--quiet`.

use std::ops::ControlFlow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kv_transfer::{Phase, Progress};

/// A bar, or nothing.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar for `total` items (`None`: a spinner with a count until a total is known).
    pub fn new(quiet: bool, total: Option<u64>) -> Bar {
        if quiet {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(spinner_style());
        if let Some(n) = total {
            bar.set_style(bar_style());
            bar.set_length(n);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(Some(bar))
    }

    /// Moves to `done` items.
    pub fn set(&self, done: u64, message: &str) {
        if let Some(b) = &self.0 {
            b.set_position(done);
            b.set_message(message.to_owned());
        }
    }

    /// Shows a transfer report.
    pub fn report(&self, p: &Progress) {
        if let Some(b) = &self.0 {
            let phase = match p.phase {
                Phase::Dump => "dump",
                Phase::Restore => "restore",
                Phase::Copy => "copy",
                Phase::Verify => "verify",
                _ => "work",
            };
            if b.length() != p.total_keys {
                match p.total_keys {
                    Some(n) => {
                        b.set_style(bar_style());
                        b.set_length(n);
                    }
                    None => {
                        b.set_style(spinner_style());
                        b.unset_length();
                    }
                }
            }
            b.set_position(p.keys);
            b.set_message(format!("{phase} {}", p.partition));
        }
    }

    /// A transfer progress callback that shows each report and never stops the work.
    pub fn callback(&self) -> impl FnMut(&Progress) -> ControlFlow<()> + Send + '_ {
        move |p| {
            self.report(p);
            ControlFlow::Continue(())
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {msg:20} [{bar:30}] {human_pos}/{human_len} keys ({percent}%) {elapsed}, eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg:20} {human_pos} keys {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}
