//! [`RunSettings`]: how a run is bounded and stopped (its timeout, the kill
//! and EOF graces, the stop signal, what a teardown reaches, a cancel token,
//! a signal forwarder), the one set of settings that [`Command`],
//! [`Pipeline`] and [`Group`] each hold and take with the same builder
//! methods.
//!
//! A `Pipeline` or `Group` setting meets the `Command` settings of its
//! stages or members as follows (`Precedence`):
//!
//! | setting                                         | `Pipeline` (one job)          | `Group` (many jobs)                  |
//! |-------------------------------------------------|-------------------------------|--------------------------------------|
//! | timeout, idle timeout, kill grace, EOF grace, stop signal or sequence, containment | every stage's, over its own | a default: every member that set none of its own |
//! | cancel token                                    | every stage, besides a stage's own token (which stops that stage) | every member, besides a member's own |
//! | forwarder                                       | every running stage; a stage's own is not used | every running member; a member's own is not used |
//!
//! A pipeline is stopped as one job: a stop of the whole pipeline (its
//! timeout, a cancel) sends the pipeline's stop signal or sequence (else its
//! first stage's) to its process group, which reaches every stage once; a
//! later stage's own stop signal applies when that stage alone is stopped
//! (its own timeout).
//!
//! [`Command`]: crate::Command
//! [`Pipeline`]: crate::Pipeline
//! [`Group`]: crate::Group

use std::time::Duration;

use crate::stop_sequence::StopPlan;
use crate::{
    CancelToken, Containment, DEFAULT_EOF_GRACE, DEFAULT_KILL_GRACE, Forwarder, Signal,
    StopSequence,
};

/// The run settings of one builder; `None` is "not set here" (the default,
/// or the setting of an outer `Pipeline`/`Group`, applies).
#[derive(Clone, Debug, Default)]
pub(crate) struct RunSettings {
    /// How long the run may take (`timeout`).
    pub timeout: Option<Duration>,
    /// How long a child may go without output (`idle_timeout`).
    pub idle_timeout: Option<Duration>,
    /// Between the stop signal and KILL (`kill_grace`).
    pub kill_grace: Option<Duration>,
    /// How long output is read after the child exited (`eof_grace`).
    pub eof_grace: Option<Duration>,
    /// The first signal of a teardown that can wait (`stop_signal`).
    pub stop_signal: Option<Signal>,
    /// The steps of a teardown (`stop_sequence`); set, it replaces
    /// `stop_signal` (each builder keeps the one set last).
    pub stop_sequence: Option<StopSequence>,
    /// What a teardown reaches beyond the child's group (`containment`).
    pub containment: Option<Containment>,
    /// Cancels the run from any thread (`cancel_on`).
    pub cancel: Option<CancelToken>,
    /// Signals passed on to the running children (`forward_signals`).
    pub forwarder: Option<Forwarder>,
}

/// Whose per-child setting wins when an outer builder (a `Pipeline`, a
/// `Group`) and a child's own `Command` both set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precedence {
    /// The outer builder's, where it set one (a pipeline is one job: its
    /// timeout, graces and stop signal are every stage's).
    Outer,
    /// The child's own; the outer one only where the child set none (a
    /// group's settings are its members' defaults).
    Own,
}

impl RunSettings {
    /// The grace between the stop signal and KILL.
    pub(crate) fn kill_grace(&self) -> Duration {
        self.kill_grace.unwrap_or(DEFAULT_KILL_GRACE)
    }

    /// How long output is read after the child exited.
    pub(crate) fn eof_grace(&self) -> Duration {
        self.eof_grace.unwrap_or(DEFAULT_EOF_GRACE)
    }

    /// The first signal of a teardown that can wait.
    pub(crate) fn stop_signal(&self) -> Signal {
        self.stop_signal.unwrap_or(Signal::TERM)
    }

    /// How a stop of the child goes: the declared sequence, or the stop
    /// signal, the kill grace, then KILL. The error says why the sequence
    /// cannot be used.
    pub(crate) fn stop_plan(&self) -> Result<StopPlan, String> {
        match &self.stop_sequence {
            Some(seq) => StopPlan::of(seq, self.kill_grace()),
            None => Ok(StopPlan::two_step(self.stop_signal(), self.kill_grace())),
        }
    }

    /// Sets the stop signal (a sequence set before is dropped).
    pub(crate) fn set_stop_signal(&mut self, signal: Signal) {
        self.stop_signal = Some(signal);
        self.stop_sequence = None;
    }

    /// Sets the stop sequence (a stop signal set before is dropped).
    pub(crate) fn set_stop_sequence(&mut self, seq: StopSequence) {
        self.stop_sequence = Some(seq);
        self.stop_signal = None;
    }

    /// What contains the child for its teardown.
    pub(crate) fn containment(&self) -> Containment {
        self.containment.unwrap_or_default()
    }

    /// Takes the per-child settings of `outer` (timeout, graces, stop
    /// signal, containment) as `precedence` says. The cancel token and the
    /// forwarder stay the child's own: the outer ones are the engine's and
    /// reach every child there.
    pub(crate) fn take_outer(&mut self, outer: &RunSettings, precedence: Precedence) {
        fn outer_wins(own_set: bool, outer_set: bool, precedence: Precedence) -> bool {
            match precedence {
                Precedence::Outer => outer_set,
                Precedence::Own => !own_set,
            }
        }
        fn pick<T: Copy>(own: &mut Option<T>, outer: Option<T>, precedence: Precedence) {
            if outer_wins(own.is_some(), outer.is_some(), precedence) {
                *own = outer;
            }
        }
        pick(&mut self.timeout, outer.timeout, precedence);
        pick(&mut self.idle_timeout, outer.idle_timeout, precedence);
        pick(&mut self.kill_grace, outer.kill_grace, precedence);
        pick(&mut self.eof_grace, outer.eof_grace, precedence);
        // The stop signal and the stop sequence are one setting: whoever
        // set either sets both.
        let own_set = self.stop_signal.is_some() || self.stop_sequence.is_some();
        let outer_set = outer.stop_signal.is_some() || outer.stop_sequence.is_some();
        if outer_wins(own_set, outer_set, precedence) {
            self.stop_signal = outer.stop_signal;
            self.stop_sequence = outer.stop_sequence;
        }
        pick(&mut self.containment, outer.containment, precedence);
    }
}

#[cfg(test)]
mod tests {
    use super::{Precedence, RunSettings};
    use crate::{Containment, DEFAULT_KILL_GRACE, Signal};
    use std::time::Duration;

    fn own() -> RunSettings {
        RunSettings {
            timeout: Some(Duration::from_secs(1)),
            stop_signal: Some(Signal::INT),
            ..RunSettings::default()
        }
    }

    fn outer() -> RunSettings {
        RunSettings {
            timeout: Some(Duration::from_secs(9)),
            stop_signal: Some(Signal::HUP),
            eof_grace: Some(Duration::from_millis(5)),
            cancel: Some(crate::CancelToken::new()),
            ..RunSettings::default()
        }
    }

    #[test]
    fn the_outer_setting_wins_where_set_under_outer_precedence() {
        let mut s = own();
        s.take_outer(&outer(), Precedence::Outer);
        assert_eq!(s.timeout, Some(Duration::from_secs(9)));
        assert_eq!(s.stop_signal(), Signal::HUP);
        assert_eq!(s.eof_grace, Some(Duration::from_millis(5)));
        // Unset on both sides: still unset, and the default applies.
        assert_eq!(s.kill_grace, None);
        assert_eq!(s.kill_grace(), DEFAULT_KILL_GRACE);
        assert_eq!(s.containment(), Containment::ProcessGroup);
    }

    #[test]
    fn the_own_setting_wins_where_set_under_own_precedence() {
        let mut s = own();
        s.take_outer(&outer(), Precedence::Own);
        assert_eq!(s.timeout, Some(Duration::from_secs(1)));
        assert_eq!(s.stop_signal(), Signal::INT);
        assert_eq!(s.eof_grace, Some(Duration::from_millis(5)));
    }

    #[test]
    fn the_cancel_token_and_forwarder_stay_the_childs_own() {
        for precedence in [Precedence::Outer, Precedence::Own] {
            let mut s = own();
            s.take_outer(&outer(), precedence);
            assert!(s.cancel.is_none());
            assert!(s.forwarder.is_none());
        }
    }
}
