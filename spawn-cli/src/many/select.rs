//! Which of the input's jobs this run takes: its shard (`--shard`) and
//! those not done before (`--resume`…), decided by the input reader for
//! each record before it becomes a job, so that skipped jobs cost a hash,
//! never a process, and nothing is held for them.

use std::sync::atomic::{AtomicU64, Ordering};

use super::key::Key;
use super::resume::Resume;
use super::shard::{Shard, ShardBy};

/// A job taken: its sequence number and, when the run needs it, its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Picked {
    pub seq: u64,
    pub key: Option<Key>,
}

/// The selection of one run.
pub(crate) struct Selection {
    /// The template's part of the keys, when jobs need one (`--journal`,
    /// `--shard-by hash`).
    pub identity: Option<Vec<u8>>,
    pub shard: Option<(Shard, ShardBy)>,
    pub resume: Option<Resume>,
    /// GNU's `--retry-failed` on a joblog: the Nth record is the job of
    /// sequence number `seqs[N-1]`.
    pub seqs: Option<Vec<u64>>,
    /// The jobs skipped because an earlier run did them.
    pub done_before: AtomicU64,
}

impl Selection {
    /// Whether this selection takes every job as it is (nothing to do).
    pub(crate) fn is_all(&self) -> bool {
        self.identity.is_none()
            && self.shard.is_none()
            && self.resume.is_none()
            && self.seqs.is_none()
    }

    /// The job of the `ordinal`th record (from 1) with `inputs`, if this
    /// run takes it.
    pub(crate) fn pick(&self, ordinal: u64, inputs: &[Vec<u8>]) -> Option<Picked> {
        let seq = match &self.seqs {
            Some(s) => usize::try_from(ordinal - 1)
                .ok()
                .and_then(|i| s.get(i))
                .copied()
                .unwrap_or(ordinal),
            None => ordinal,
        };
        let key = self.identity.as_deref().map(|id| Key::of(id, inputs));
        if let Some((shard, by)) = self.shard
            && !shard.takes(by, ordinal - 1, key)
        {
            return None;
        }
        if let Some(r) = &self.resume
            && r.skips(seq, key)
        {
            self.done_before.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Picked { seq, key })
    }

    /// How many jobs were skipped as done before.
    pub(crate) fn done_before(&self) -> u64 {
        self.done_before.load(Ordering::Relaxed)
    }
}
