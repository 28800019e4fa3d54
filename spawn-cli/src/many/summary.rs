//! `--json`'s last line: the run's summary, one object that the outputs of
//! the shards of one job list can be merged by (sum the counts, take the
//! largest wall time, check every shard is there):
//!
//! ```text
//! {"summary":{"jobs":40,"succeeded":39,"failed":1,"stopped":0,"not_started":0,"done_before":60,"wall_ms":1520,"shard":{"index":1,"count":3},"max_running":2,"exit":1}}
//! ```
//!
//! `jobs` ran to an end (succeeded + failed + stopped); `done_before` were
//! skipped by `--resume…`; a shard's jobs that other shards take are not
//! counted at all.

use std::time::Duration;

use serde_json::{Value, json};

use super::shard::Shard;

/// The figures of a finished run.
pub(crate) struct Summary {
    pub done: u64,
    pub failed: u64,
    pub stopped: u64,
    pub not_started: u64,
    pub done_before: u64,
    pub wall: Duration,
    pub shard: Option<Shard>,
    pub max_running: usize,
    pub exit: i32,
}

impl Summary {
    /// The JSON line's value.
    pub(crate) fn json(&self) -> Value {
        let ran = self.done.saturating_sub(self.stopped);
        json!({"summary": {
            "jobs": self.done,
            "succeeded": ran.saturating_sub(self.failed),
            "failed": self.failed,
            "stopped": self.stopped,
            "not_started": self.not_started,
            "done_before": self.done_before,
            "wall_ms": u64::try_from(self.wall.as_millis()).unwrap_or(u64::MAX),
            "shard": self.shard.map(|s| json!({"index": s.index, "count": s.count})),
            "max_running": self.max_running,
            "exit": self.exit,
        }})
    }
}
