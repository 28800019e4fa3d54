//! `--resume`, `--resume-failed` and `--retry-failed`: which jobs a run
//! takes again, from what an earlier run recorded.
//!
//! With `--journal FILE` the record is the journal, keyed by the job
//! itself ([`super::key`]), so the input may be reordered or extended:
//!
//! | option            | skips the jobs the journal has as      |
//! |-------------------|----------------------------------------|
//! | `--resume`        | finished (succeeded or failed)         |
//! | `--resume-failed` | succeeded (failed and new ones run)    |
//! | `--retry-failed`  | succeeded, and jobs it does not have: only the failed ones run |
//!
//! With only `--joblog FILE` they are GNU parallel's, keyed by the job's
//! sequence number (so the input and the command must not change): the
//! first two skip the sequence numbers the joblog has (`--resume`) or has
//! with exit 0 and no signal (`--resume-failed`); `--retry-failed` ignores
//! the command and input and runs the failed lines' commands again, each
//! with its sequence number. The joblog is then appended to, not
//! truncated.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::journal::{self, Outcome};
use super::key::Key;

/// Which jobs a run takes again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Again {
    /// `--resume`: those not finished.
    Resume,
    /// `--resume-failed`: those not succeeded.
    ResumeFailed,
    /// `--retry-failed`: those that failed.
    RetryFailed,
}

/// What an earlier run recorded.
pub(crate) enum Record {
    /// The journal's outcome of each key.
    Journal(HashMap<Key, Outcome>),
    /// The joblog's outcome of each sequence number.
    Joblog(HashMap<u64, Outcome>),
}

/// The jobs a run skips (see the module docs).
pub(crate) struct Resume {
    pub again: Again,
    pub record: Record,
}

impl Resume {
    /// Whether the job of sequence number `seq` and key `key` is skipped.
    pub(crate) fn skips(&self, seq: u64, key: Option<Key>) -> bool {
        let had = match &self.record {
            Record::Journal(m) => key.and_then(|k| m.get(&k)),
            Record::Joblog(m) => m.get(&seq),
        };
        match (self.again, had) {
            (Again::Resume, had) => had.is_some(),
            (Again::ResumeFailed, had) => had == Some(&Outcome::Succeeded),
            (Again::RetryFailed, had) => had != Some(&Outcome::Failed),
        }
    }
}

/// Reads the journal at `path` (saying how many torn lines it skipped).
///
/// # Errors
/// It exists and cannot be read.
pub(crate) fn from_journal(path: &Path, again: Again) -> io::Result<Resume> {
    let r = journal::read(path)?;
    if r.unreadable > 0 {
        crate::screen::screen().note(&format!(
            "spawn many: --journal {}: skipped {} line{} that could not be read (a torn write)",
            path.display(),
            r.unreadable,
            super::plural(r.unreadable)
        ));
    }
    Ok(Resume {
        again,
        record: Record::Journal(r.outcomes),
    })
}

/// One line of a GNU parallel joblog: its sequence number, outcome and
/// command.
struct JoblogLine<'a> {
    seq: u64,
    outcome: Outcome,
    command: &'a [u8],
}

fn joblog_lines(text: &[u8]) -> impl Iterator<Item = JoblogLine<'_>> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let mut f = line.splitn(9, |&b| b == b'\t');
        let seq = std::str::from_utf8(f.next()?).ok()?.parse().ok()?;
        let mut f = f.skip(5);
        let exit = f.next()?;
        let signal = f.next()?;
        let command = f.next()?;
        let outcome = if exit == b"0" && signal == b"0" {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        Some(JoblogLine {
            seq,
            outcome,
            command,
        })
    })
}

fn read_or_empty(path: &Path) -> io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        r => r,
    }
}

/// Reads the joblog at `path` (the last line of a sequence number wins).
///
/// # Errors
/// It exists and cannot be read.
pub(crate) fn from_joblog(path: &Path, again: Again) -> io::Result<Resume> {
    let text = read_or_empty(path)?;
    let record = joblog_lines(&text).map(|l| (l.seq, l.outcome)).collect();
    Ok(Resume {
        again,
        record: Record::Joblog(record),
    })
}

/// GNU parallel's `--retry-failed` on a joblog: the failed jobs' sequence
/// numbers and commands, in the joblog's order of them.
///
/// # Errors
/// It exists and cannot be read.
pub(crate) fn failed_in_joblog(path: &Path) -> io::Result<Vec<(u64, Vec<u8>)>> {
    let text = read_or_empty(path)?;
    let mut last: HashMap<u64, (Outcome, Vec<u8>)> = HashMap::new();
    let mut order = Vec::new();
    for l in joblog_lines(&text) {
        if last
            .insert(l.seq, (l.outcome, l.command.to_vec()))
            .is_none()
        {
            order.push(l.seq);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|seq| match last.remove(&seq) {
            Some((Outcome::Failed, cmd)) => Some((seq, cmd)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &[u8] =
        b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
        1\t:\t1.0\t0.1\t0\t0\t0\t0\techo a\n\
        2\t:\t1.0\t0.1\t0\t0\t1\t0\tfalse b\n\
        3\t:\t1.0\t0.1\t0\t0\t0\t15\tsleep\t9\n\
        2\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue b\n";

    #[test]
    fn joblog_resume_is_gnu_parallels_by_sequence_number() {
        let record: HashMap<u64, Outcome> = joblog_lines(LOG).map(|l| (l.seq, l.outcome)).collect();
        let r = |again| Resume {
            again,
            record: Record::Joblog(record.clone()),
        };
        let skipped = |again| {
            (1..=4)
                .filter(|&s| r(again).skips(s, None))
                .collect::<Vec<_>>()
        };
        assert_eq!(skipped(Again::Resume), [1, 2, 3]);
        assert_eq!(skipped(Again::ResumeFailed), [1, 2]);
        assert_eq!(skipped(Again::RetryFailed), [1, 2, 4]);
    }

    #[test]
    fn retry_failed_takes_the_failed_commands_of_the_joblog() {
        let dir = std::env::temp_dir().join(format!("spawn-resume-{}", std::process::id()));
        std::fs::write(&dir, LOG).expect("write");
        let failed = failed_in_joblog(&dir).expect("read");
        let _ = std::fs::remove_file(&dir);
        assert_eq!(failed, [(3, b"sleep\t9".to_vec())]);
    }

    #[test]
    fn journal_resume_goes_by_key() {
        let m = HashMap::from([(Key(1), Outcome::Succeeded), (Key(2), Outcome::Failed)]);
        let r = |again| Resume {
            again,
            record: Record::Journal(m.clone()),
        };
        let skipped = |again| {
            (1..=3)
                .filter(|&k| r(again).skips(99, Some(Key(k))))
                .collect::<Vec<_>>()
        };
        assert_eq!(skipped(Again::Resume), [1, 2]);
        assert_eq!(skipped(Again::ResumeFailed), [1]);
        assert_eq!(skipped(Again::RetryFailed), [1, 3]);
    }
}
