//! The one notice of a run of `spawn many` on stderr when the run meets
//! one of spawn's deliberate differences from GNU parallel, so that a
//! script moved from `parallel` is not silently different: printed once,
//! at the end of the run, naming each difference met; a run that meets
//! none (every plain run) prints nothing. spawn-cli/EXAMPLES.md lists every
//! difference, under "Differences from GNU parallel", and which of them
//! this notice names.
//!
//! The differences named (the others are in what GNU parallel would
//! refuse or in what a script does not read, and are only listed there):
//! - the run was stopped by a signal: it exits 128+N (143 for TERM),
//!   GNU parallel 255;
//! - `--timeout N%`: each job's limit is fixed when it starts, GNU
//!   parallel moves the limit of running jobs as the median changes;
//! - `--bar`/`--eta`: spawn's own progress text (and on a terminal, the
//!   progress line instead), not GNU parallel's.

use crate::screen::screen;

/// A difference from GNU parallel a run met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Difference {
    /// Stopped by a signal: this exit code, GNU parallel's 255.
    SignalExit {
        /// Ours, 128+N.
        code: i32,
        /// The signal's name.
        signal: String,
    },
    /// `--timeout N%`, fixed per job.
    TimeoutOfMedian,
    /// `--bar`/`--eta`, spawn's own text.
    Progress,
}

impl Difference {
    fn text(&self) -> String {
        match self {
            Difference::SignalExit { code, signal } => {
                format!("stopped by {signal}, it exits {code} (GNU parallel: 255)")
            }
            Difference::TimeoutOfMedian => "--timeout N% fixes each job's limit when the job \
                starts (GNU parallel moves it as the median changes)"
                .into(),
            Difference::Progress => "--bar and --eta write spawn's own progress text, and \
                on a terminal its progress line (not GNU parallel's)"
                .into(),
        }
    }
}

/// The differences a run met, printed once (see the module docs).
#[derive(Default)]
pub(crate) struct Notice {
    met: Vec<Difference>,
    printed: bool,
}

impl Notice {
    /// The differences the options meet: `--timeout N%`, `--bar`/`--eta`.
    pub(crate) fn of_options(timeout_of_median: bool, progress: bool) -> Notice {
        let mut n = Notice::default();
        if timeout_of_median {
            n.met(Difference::TimeoutOfMedian);
        }
        if progress {
            n.met(Difference::Progress);
        }
        n
    }

    /// The run met `d`.
    pub(crate) fn met(&mut self, d: Difference) {
        if !self.met.contains(&d) {
            self.met.push(d);
        }
    }

    /// The notice's line, if the run met any difference.
    pub(crate) fn line(&self) -> Option<String> {
        if self.met.is_empty() {
            return None;
        }
        let texts: Vec<String> = self.met.iter().map(Difference::text).collect();
        Some(format!(
            "spawn many: unlike GNU parallel: {} (spawn-cli/EXAMPLES.md, \"Differences from GNU \
             parallel\")",
            texts.join("; ")
        ))
    }

    /// Prints the notice on stderr, once, if the run met any difference.
    pub(crate) fn print(&mut self) {
        if self.printed {
            return;
        }
        self.printed = true;
        if let Some(line) = self.line() {
            screen().note(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_meets_no_difference_says_nothing_and_each_is_named_once() {
        assert_eq!(Notice::of_options(false, false).line(), None);
        let mut n = Notice::of_options(true, false);
        n.met(Difference::TimeoutOfMedian);
        n.met(Difference::SignalExit {
            code: 143,
            signal: "SIGTERM".into(),
        });
        let line = n.line().expect("a notice");
        assert_eq!(line.matches("--timeout N%").count(), 1, "{line}");
        assert!(line.contains("stopped by SIGTERM, it exits 143 (GNU parallel: 255)"));
    }
}
