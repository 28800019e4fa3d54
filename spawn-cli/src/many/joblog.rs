//! `--joblog FILE`: one line per finished job in GNU parallel's
//! tab-separated format, written as each job ends (shown here with
//! spaces for the TABs):
//!
//! ```text
//! Seq  Host  Starttime  JobRuntime  Send  Receive  Exitval  Signal  Command
//! 1  :  1764626400.123       0.004  0  6  0  0  echo hello
//! ```
//!
//! `Host` is `:` (this machine), `Starttime` seconds since the epoch,
//! `JobRuntime` seconds, `Send` the bytes of input given (0 but with
//! `--pipe`: jobs read `/dev/null`), `Receive` the bytes of stdout read (not stderr, as
//! GNU parallel's), `Exitval` the exit code (0 when killed by a signal; -1
//! when its `--timeout` killed it; 126 or 127 when it could not be
//! started, as a shell says), `Signal` the signal that killed it (0 when
//! none).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use spawn::{Error, Output};

use super::job::Job;

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// What the joblog (and `--results`' tables) say of a finished job.
pub(crate) struct Facts {
    /// When it started, in seconds since the epoch.
    pub started: f64,
    /// How long it ran, in seconds.
    pub runtime: f64,
    /// The bytes of its stdout.
    pub receive: u64,
    /// The bytes given on its stdin (its `--pipe` block).
    pub send: usize,
    /// Its exit code (see the module docs).
    pub exitval: i32,
    /// The signal that killed it, or 0.
    pub signal: i32,
}

impl Facts {
    /// The facts of `job`, which started at `start` and ended with
    /// `result`.
    pub(crate) fn of(job: &Job, start: SystemTime, result: &Result<Output, Error>) -> Facts {
        let out = match result {
            Ok(o) => Some(o),
            Err(e) => e.output(),
        };
        let (exitval, signal) = match (result, out) {
            // Killed by its timeout: -1, and the signal (GNU parallel's).
            (Err(Error::Timeout { .. }), Some(o)) => (-1, o.status.signal().unwrap_or(15)),
            (_, Some(o)) => (o.status.code().unwrap_or(0), o.status.signal().unwrap_or(0)),
            (Err(e), None) => (crate::error_code(e), 0),
            (Ok(_), None) => (0, 0),
        };
        let (runtime, receive) = out.map_or((0.0, 0), |o| {
            (o.report.wall.as_secs_f64(), o.report.stdout_bytes)
        });
        let started = start
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Facts {
            started,
            runtime,
            receive,
            send: job.stdin.as_ref().map_or(0, Vec::len),
            exitval,
            signal,
        }
    }
}

/// An open joblog.
pub(crate) struct Joblog {
    file: File,
}

impl Joblog {
    /// Creates (or truncates) `path` and writes the header; or, when
    /// `append` (`--joblog +FILE`), appends lines to it with no header (GNU
    /// parallel's way).
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub(crate) fn open(path: &Path, append: bool) -> io::Result<Joblog> {
        if append {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)?;
            return Ok(Joblog { file });
        }
        let mut file = File::create(path)?;
        file.write_all(HEADER.as_bytes())?;
        Ok(Joblog { file })
    }

    /// Writes the line of a finished job that started at `start`.
    ///
    /// # Errors
    /// The write failed.
    pub(crate) fn record(
        &mut self,
        job: &Job,
        start: SystemTime,
        result: &Result<Output, Error>,
    ) -> io::Result<()> {
        let Facts {
            started,
            runtime,
            receive,
            send,
            exitval,
            signal,
        } = Facts::of(job, start, result);
        let mut line = format!(
            "{}\t:\t{started:.3}\t{runtime:10.3}\t{send}\t{receive}\t{exitval}\t{signal}\t",
            job.seq
        )
        .into_bytes();
        line.extend(job.line.iter().map(|&b| match b {
            b'\n' | b'\t' => b' ',
            b => b,
        }));
        line.push(b'\n');
        self.file.write_all(&line)
    }
}
