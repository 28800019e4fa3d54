//! [`StopSequence`]: the steps every stop of a run takes (GNU parallel's
//! `--term-seq`, swift-subprocess's teardown steps), and [`StopStep`], the
//! step that ended a run, as its [`Report`](crate::Report) names it.
//!
//! The core knows each step's grace ([`spawn_core::StopGraces`]); the
//! driver knows its signal ([`StopPlan`], resolved once by the wiring).
//! `stop_signal` and `kill_grace` are the two-step case: the stop signal,
//! its grace, then KILL.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use spawn_core::{MAX_STOP_STEPS, StopGraces};

use crate::Signal;

/// Most steps a [`StopSequence`] has, its final KILL included.
pub const MAX_STOP_SEQUENCE: usize = MAX_STOP_STEPS + 1;

/// The steps a stop of a run takes: each `(signal, wait)` is sent to the
/// child and its group (or cgroup), and the next step goes out only if
/// something is still alive after `wait`; after the last step, KILL is
/// repeated until the group is empty. A last step of KILL sets how long
/// the teardown waits after it (else the `kill_grace`, 2 s by default).
///
/// Set with [`Command::stop_sequence`](crate::Command::stop_sequence) (and
/// on `Pipeline` and `Group`); taken by every stop: timeout, idle timeout,
/// cancel, an overflowing sink, a forwarded Ctrl-C's teardown. At most
/// [`MAX_STOP_SEQUENCE`] steps, of which at most one fewer before a final
/// KILL (a sequence without one ends in the teardown's own KILL); KILL
/// only as the last one. Parsed from GNU
/// parallel's `--term-seq` form, milliseconds after each signal:
///
/// ```
/// use spawn::{Signal, StopSequence};
/// use std::time::Duration;
/// let seq: StopSequence = "TERM,200,TERM,100,TERM,50,KILL,25".parse()?;
/// assert_eq!(seq, StopSequence::gnu_parallel());
/// assert_eq!(seq.steps()[1], (Signal::TERM, Duration::from_millis(100)));
/// # Ok::<(), spawn::BadStopSequence>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StopSequence {
    steps: [(Signal, Duration); MAX_STOP_SEQUENCE],
    /// How many steps were given (more than the array holds: refused when
    /// the run starts).
    given: usize,
}

/// A stop sequence that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stop sequence {text:?}: {cause}")]
pub struct BadStopSequence {
    /// The sequence as given.
    pub text: String,
    /// What is wrong with it.
    pub cause: String,
}

impl StopSequence {
    /// The sequence of `steps`, in order (checked when the run starts).
    pub fn new(steps: impl IntoIterator<Item = (Signal, Duration)>) -> StopSequence {
        let mut seq = StopSequence {
            steps: [(Signal::TERM, Duration::ZERO); MAX_STOP_SEQUENCE],
            given: 0,
        };
        for step in steps {
            if let Some(slot) = seq.steps.get_mut(seq.given) {
                *slot = step;
            }
            seq.given += 1;
        }
        seq
    }

    /// GNU parallel's default `--term-seq`: TERM, 200 ms, TERM, 100 ms,
    /// TERM, 50 ms, KILL, 25 ms.
    #[must_use]
    pub fn gnu_parallel() -> StopSequence {
        let ms = Duration::from_millis;
        StopSequence::new([
            (Signal::TERM, ms(200)),
            (Signal::TERM, ms(100)),
            (Signal::TERM, ms(50)),
            (Signal::KILL, ms(25)),
        ])
    }

    /// The steps (at most [`MAX_STOP_SEQUENCE`] of those given).
    #[must_use]
    pub fn steps(&self) -> &[(Signal, Duration)] {
        &self.steps[..self.given.min(MAX_STOP_SEQUENCE)]
    }

    /// What is wrong with the sequence, if anything: no step, too many, or
    /// KILL before the last step.
    fn check(&self) -> Result<(), String> {
        if self.given == 0 {
            return Err("it has no step".into());
        }
        if self.given > MAX_STOP_SEQUENCE {
            return Err(format!(
                "{} steps; at most {MAX_STOP_SEQUENCE}, KILL included",
                self.given
            ));
        }
        let steps = self.steps();
        if let Some(k) = steps[..steps.len() - 1]
            .iter()
            .position(|(s, _)| *s == Signal::KILL)
        {
            return Err(format!(
                "KILL is step {} of {}: nothing can follow KILL, so it may only be the last step",
                k + 1,
                steps.len()
            ));
        }
        // A last KILL is the teardown's own (unless it is the only step):
        // the steps before it are at most MAX_STOP_STEPS.
        let before_kill = match steps {
            [_, .., (last, _)] if *last == Signal::KILL => steps.len() - 1,
            _ => steps.len(),
        };
        if before_kill > MAX_STOP_STEPS {
            return Err(format!(
                "{before_kill} steps before the final KILL; at most {MAX_STOP_STEPS}"
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for StopSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.steps()).finish()
    }
}

impl FromStr for StopSequence {
    type Err = BadStopSequence;

    /// GNU parallel's `--term-seq` form: `SIGNAL,MS,SIGNAL,MS,…` (names
    /// with or without `SIG`, or numbers; waits in milliseconds).
    fn from_str(text: &str) -> Result<StopSequence, BadStopSequence> {
        let bad = |cause: String| BadStopSequence {
            text: text.to_owned(),
            cause,
        };
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() % 2 != 0 {
            return Err(bad(
                "give pairs of a signal and a wait in milliseconds (TERM,200,KILL,25)".into(),
            ));
        }
        let mut steps = Vec::with_capacity(parts.len() / 2);
        for pair in parts.chunks(2) {
            let signal: Signal = pair[0].parse().map_err(|e| bad(format!("{e}")))?;
            let ms: u64 = pair[1].parse().map_err(|_| {
                bad(format!(
                    "{:?} after {} is not a wait in milliseconds",
                    pair[1], pair[0]
                ))
            })?;
            steps.push((signal, Duration::from_millis(ms)));
        }
        let seq = StopSequence::new(steps);
        seq.check().map_err(bad)?;
        Ok(seq)
    }
}

/// The step of a run's stop that ended it: the last one sent before the
/// child (and its group) was gone. In [`Report::stop_step`](crate::Report::stop_step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StopStep {
    /// Its place in the sequence, from 0 (the sequence's final KILL, or
    /// the KILL after the last step, has the place after the last step).
    pub index: usize,
    /// The signal it sent.
    pub signal: Signal,
}

/// How a run is stopped, as the wiring resolves it once: each step's
/// signal for the driver, their graces for the core, and the wait after
/// KILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StopPlan {
    signals: [Signal; MAX_STOP_STEPS],
    /// The steps' graces (empty: the one step of `kill_grace`).
    pub graces: StopGraces,
    /// The grace of the two-step case, and the wait after KILL.
    pub kill_grace: Duration,
}

impl StopPlan {
    /// `signal`, `kill_grace`, then KILL.
    pub(crate) fn two_step(signal: Signal, kill_grace: Duration) -> StopPlan {
        StopPlan {
            signals: [signal; MAX_STOP_STEPS],
            graces: StopGraces::default(),
            kill_grace,
        }
    }

    /// The plan of a declared sequence; `kill_grace` is the wait after
    /// KILL unless the sequence ends with KILL. The error says why the
    /// sequence cannot be used.
    pub(crate) fn of(seq: &StopSequence, kill_grace: Duration) -> Result<StopPlan, String> {
        seq.check()?;
        let mut steps = seq.steps();
        let mut after_kill = kill_grace;
        // A last KILL is the core's own KILL, unless it is the only step.
        if let [soft @ .., (last, wait)] = steps
            && *last == Signal::KILL
            && !soft.is_empty()
        {
            after_kill = *wait;
            steps = soft;
        }
        let graces: Vec<Duration> = steps.iter().map(|&(_, d)| d).collect();
        let mut plan = StopPlan {
            signals: [Signal::KILL; MAX_STOP_STEPS],
            graces: StopGraces::new(&graces)
                .map_err(|_| format!("more than {MAX_STOP_STEPS} steps before the final KILL"))?,
            kill_grace: after_kill,
        };
        for (k, &(s, _)) in steps.iter().enumerate() {
            plan.signals[k] = s;
        }
        Ok(plan)
    }

    /// The signal of step `step`.
    pub(crate) fn signal(&self, step: u8) -> Signal {
        self.signals[usize::from(step).min(MAX_STOP_STEPS - 1)]
    }

    /// The step that ended a run whose core sent `steps` steps and (or
    /// not) KILL; `None` when nothing was sent.
    pub(crate) fn ended_by(&self, steps: u8, kill: bool) -> Option<StopStep> {
        if kill {
            let index = usize::from(steps).max(self.graces.as_slice().len().max(1));
            return Some(StopStep {
                index,
                signal: Signal::KILL,
            });
        }
        let last = steps.checked_sub(1)?;
        Some(StopStep {
            index: usize::from(last),
            signal: self.signal(last),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_last_kill_sets_the_wait_after_kill() {
        let plan = StopPlan::of(&StopSequence::gnu_parallel(), 2000 * MS).unwrap();
        assert_eq!(plan.graces.as_slice(), &[200 * MS, 100 * MS, 50 * MS]);
        assert_eq!(plan.kill_grace, 25 * MS);
        assert_eq!(plan.signal(2), Signal::TERM);
        assert_eq!(
            plan.ended_by(3, true),
            Some(StopStep {
                index: 3,
                signal: Signal::KILL
            })
        );
        assert_eq!(
            plan.ended_by(2, false),
            Some(StopStep {
                index: 1,
                signal: Signal::TERM
            })
        );
    }

    #[test]
    fn without_a_last_kill_the_kill_grace_follows() {
        let seq = StopSequence::new([(Signal::INT, 10 * MS), (Signal::HUP, 20 * MS)]);
        let plan = StopPlan::of(&seq, 7 * MS).unwrap();
        assert_eq!(plan.kill_grace, 7 * MS);
        assert_eq!(plan.signal(1), Signal::HUP);
        assert_eq!(plan.ended_by(0, false), None);
    }

    #[test]
    fn kill_alone_is_a_step_of_its_own() {
        let plan = StopPlan::of(&StopSequence::new([(Signal::KILL, 5 * MS)]), MS).unwrap();
        assert_eq!(plan.graces.as_slice(), &[5 * MS]);
        assert_eq!(plan.signal(0), Signal::KILL);
    }

    #[test]
    fn bad_sequences_say_why() {
        for (text, cause) in [
            ("TERM,200,KILL", "pairs"),
            ("KILL,10,TERM,10", "nothing can follow KILL"),
            ("BOGUS,10", "not a signal"),
            ("TERM,soon", "not a wait"),
            ("", "pairs"),
            // Nine steps and no KILL: refused here, not when a run starts.
            (&["TERM,1"; MAX_STOP_SEQUENCE].join(","), "at most 8"),
        ] {
            let err = text.parse::<StopSequence>().unwrap_err();
            assert!(err.to_string().contains(cause), "{text}: {err}");
        }
        let long = StopSequence::new([(Signal::TERM, MS); MAX_STOP_SEQUENCE + 1]);
        assert!(StopPlan::of(&long, MS).unwrap_err().contains("at most"));
    }
}
