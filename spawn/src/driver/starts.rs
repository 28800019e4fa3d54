//! [`Starts`]: what the engine's starts share: the spawner thread (made
//! once output streams in, see `spawner.rs`), the bytes read since the last
//! start (whether it is streaming), the plumbing between pipeline stages
//! and where a pipeline's final stdout goes, and who drives the engine to
//! its end (which decides when the reaper thread is made).

use super::Driving;
use super::slot::StagePlumbing;
use super::spawner::{BULK_READ, Spawner};
use crate::wiring::Plan;

/// The state the engine's starts share: see the module docs.
pub(crate) struct Starts {
    /// Makes the starts while children run, once needed.
    pub(super) spawner: Option<Spawner>,
    /// Bytes read from children's pipes since the last start.
    read_since_start: usize,
    pub(super) plumbing: StagePlumbing,
    /// Where a pipeline's final stdout goes (for stages' merged stderr).
    pub(super) pipeline_stdout: Plan,
    /// Who drives this engine to its end.
    pub(super) driving: Driving,
}

impl Default for Starts {
    fn default() -> Self {
        Starts {
            spawner: None,
            read_since_start: 0,
            plumbing: StagePlumbing::default(),
            pipeline_stdout: Plan::Inherit,
            driving: Driving::Held,
        }
    }
}

impl Starts {
    /// `n` bytes were read from a child's pipe.
    pub(super) fn read(&mut self, n: usize) {
        self.read_since_start = self.read_since_start.saturating_add(n);
    }

    /// A start is being made: whether output streamed in since the last
    /// one (at least [`BULK_READ`] bytes), which sends a start with pipes
    /// to the spawner thread. Counting starts again from here.
    pub(super) fn streaming(&mut self) -> bool {
        std::mem::take(&mut self.read_since_start) >= BULK_READ
    }

    /// What an engine handed to the reaper keeps: the spawner and the
    /// plumbing; it is driven from there as a held engine.
    pub(super) fn take(&mut self) -> Starts {
        Starts {
            spawner: self.spawner.take(),
            read_since_start: 0,
            plumbing: std::mem::take(&mut self.plumbing),
            pipeline_stdout: std::mem::replace(&mut self.pipeline_stdout, Plan::Inherit),
            driving: Driving::Held,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BULK_READ, Starts};

    /// A start after `BULK_READ` bytes streams; the next one, with nothing
    /// read since, does not.
    #[test]
    fn streaming_is_counted_from_the_last_start() {
        let mut s = Starts::default();
        s.read(BULK_READ - 1);
        assert!(!s.streaming());
        s.read(BULK_READ);
        assert!(s.streaming());
        assert!(!s.streaming(), "counted again from the last start");
    }
}
