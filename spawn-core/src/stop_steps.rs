//! [`StopGraces`]: the waits of a declared stop sequence, as the core sees
//! it. The driver knows each step's signal; the core knows only how long
//! each step waits before the next one goes out, and that KILL follows the
//! last.

use core::time::Duration;

/// Most steps a stop sequence has before its KILL.
pub const MAX_STOP_STEPS: usize = 8;

/// The wait after each step of a child's stop sequence before KILL
/// (GNU parallel's `--term-seq`, swift-subprocess's teardown steps).
///
/// A stop sends step 0 ([`KillSignal::Step`](crate::KillSignal::Step)),
/// waits its grace, and sends the next step only if something is still
/// alive (the child, or for a group leader its group); after the last
/// step's grace comes KILL, repeated until the group is empty or
/// [`ChildSpec::kill_grace`](crate::ChildSpec::kill_grace) after it ran
/// out. Empty (the default) is the two-step case: one step whose grace is
/// `kill_grace`, then KILL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StopGraces {
    graces: [Duration; MAX_STOP_STEPS],
    len: u8,
}

/// A stop sequence longer than [`MAX_STOP_STEPS`] steps before KILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManySteps;

impl StopGraces {
    /// The graces of `steps`, in order; at most [`MAX_STOP_STEPS`].
    pub fn new(steps: &[Duration]) -> Result<Self, TooManySteps> {
        let mut g = StopGraces::default();
        if steps.len() > MAX_STOP_STEPS {
            return Err(TooManySteps);
        }
        g.graces[..steps.len()].copy_from_slice(steps);
        g.len = steps.len() as u8;
        Ok(g)
    }

    /// The declared steps (none: the two-step case).
    pub fn as_slice(&self) -> &[Duration] {
        &self.graces[..usize::from(self.len)]
    }

    /// How long step `step` waits before the next step (or KILL), with
    /// `kill_grace` the grace of the two-step case; `None` past the last.
    pub fn grace(&self, step: u8, kill_grace: Duration) -> Option<Duration> {
        if self.len == 0 {
            return (step == 0).then_some(kill_grace);
        }
        self.as_slice().get(usize::from(step)).copied()
    }

    /// Whether a step follows `step` before KILL.
    pub fn has_next(&self, step: u8) -> bool {
        usize::from(step) + 1 < usize::from(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn empty_is_one_step_of_the_kill_grace() {
        let g = StopGraces::default();
        assert_eq!(g.grace(0, 7 * MS), Some(7 * MS));
        assert_eq!(g.grace(1, 7 * MS), None);
        assert!(!g.has_next(0));
    }

    #[test]
    fn declared_steps_come_in_order_then_none() {
        let g = StopGraces::new(&[200 * MS, 100 * MS, 50 * MS]).unwrap();
        assert_eq!(g.grace(0, MS), Some(200 * MS));
        assert_eq!(g.grace(2, MS), Some(50 * MS));
        assert_eq!(g.grace(3, MS), None);
        assert!(g.has_next(1) && !g.has_next(2));
    }

    #[test]
    fn more_than_the_maximum_is_refused() {
        assert_eq!(
            StopGraces::new(&[MS; MAX_STOP_STEPS + 1]),
            Err(TooManySteps)
        );
        assert!(StopGraces::new(&[MS; MAX_STOP_STEPS]).is_ok());
    }
}
