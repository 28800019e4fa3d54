//! `spawn many`'s options for runs at scale, and the run's parts they make:
//! the journal and resuming ([`super::journal`], [`super::resume`]),
//! shards ([`super::shard`]), which jobs the run takes
//! ([`super::select`]), admission ([`super::admission`]) and the drain's
//! grace ([`super::drain`]). See `spawn-cli/SCALE.md` for Slurm and
//! Kubernetes.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use clap::Args;

use super::admission::{self, Admission, LoadSpec};
use super::exit_code;
use super::job::Job;
use super::journal::{Entry, Journal, Outcome};
use super::key;
use super::options::{self, TimeoutSpec};
use super::resume::{self, Again};
use super::select::Selection;
use super::shard::{self, Shard, ShardBy, ShardSpec};

/// The options (flattened into `spawn many`'s).
#[derive(Args)]
pub(crate) struct ScaleArgs {
    /// Append a JSON line per finished job to FILE, keyed by the job itself (its command
    /// template and input), for --resume, --resume-failed and --retry-failed.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Skip the jobs --journal (else --joblog, by sequence number) has as finished.
    #[arg(long, conflicts_with_all = ["resume_failed", "retry_failed"])]
    resume: bool,
    /// Skip the jobs --journal (else --joblog) has as succeeded; failed and new ones run.
    #[arg(long, conflicts_with = "retry_failed")]
    resume_failed: bool,
    /// Run only the jobs --journal has as failed (with --joblog alone: its failed commands,
    /// the command line ignored, as GNU parallel).
    #[arg(long)]
    retry_failed: bool,
    /// Take only shard K of N of the jobs (K from 0 to N-1; auto: Slurm's array task; auto/N:
    /// Kubernetes' JOB_COMPLETION_INDEX of N).
    #[arg(long, value_name = "K/N", value_parser = shard::parse)]
    shard: Option<ShardSpec>,
    /// What decides a job's shard: ordinal (its place in the input: the same input in every
    /// shard) or hash (a stable hash of the job: any order of the input) [default: ordinal].
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value_t,
        hide_default_value = true,
        hide_possible_values = true,
        requires = "shard"
    )]
    shard_by: ShardBy,
    /// Start no job while less memory than SIZE is available (the cgroup's limit, else
    /// MemAvailable; K, M, G: of 1024, k, m, g: of 1000); below half of SIZE, stop the
    /// youngest running job and run it again later.
    #[arg(long, value_name = "SIZE", value_parser = admission::parse_size)]
    memfree: Option<u64>,
    /// Start no job while the load is above MAX (a number, or N% of the CPUs; from the CPU
    /// pressure where the kernel has it, else the load average).
    #[arg(long, value_name = "MAX", value_parser = admission::parse_load)]
    load: Option<LoadSpec>,
    /// Wait this long between job starts (seconds, or 1m30s).
    #[arg(long, value_name = "SECS", value_parser = parse_delay)]
    delay: Option<Duration>,
    /// After a signal, how long the running jobs get before they are stopped (TERM, KILL 2 s
    /// later): the run ends within it [default: 25s].
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    grace: Option<Duration>,
}

fn parse_delay(s: &str) -> Result<Duration, String> {
    match options::parse_timeout(s)? {
        TimeoutSpec::Fixed(d) => Ok(d),
        TimeoutSpec::OfMedian(_) => Err(format!("{s:?}: want seconds (2.5) or 1m30s")),
    }
}

/// Why a run cannot start.
pub(crate) enum SetupError {
    /// The options do not go together.
    Usage(String),
    /// A file cannot be read or written.
    Io(String),
}

impl SetupError {
    /// Says it and returns the exit code.
    pub(crate) fn code(self) -> i32 {
        match self {
            SetupError::Usage(m) => exit_code::usage(&m),
            SetupError::Io(m) => {
                crate::screen::screen().note(&format!("spawn many: {m}"));
                exit_code::RUNNER_ERROR
            }
        }
    }
}

/// The parts of a run the options make.
pub(crate) struct Scale {
    /// Which jobs the run takes (`None`: all).
    pub selection: Option<Arc<Selection>>,
    pub shard: Option<Shard>,
    pub journal: Option<Journal>,
    pub admission: Option<Arc<Admission>>,
    /// The joblog is appended to (a resumed run: its lines add to the
    /// earlier run's).
    pub joblog_append: bool,
    /// GNU's `--retry-failed` on a joblog: the commands to run (in place
    /// of the command line and input).
    pub retry: Option<Vec<Vec<u8>>>,
    pub grace: Duration,
}

impl ScaleArgs {
    fn again(&self) -> Option<Again> {
        match (self.resume, self.resume_failed, self.retry_failed) {
            (true, _, _) => Some(Again::Resume),
            (_, true, _) => Some(Again::ResumeFailed),
            (_, _, true) => Some(Again::RetryFailed),
            _ => None,
        }
    }

    /// Makes the parts, for the command `words` (with `-I` `replace`),
    /// `--joblog` `joblog`, on `cpus` usable CPUs.
    ///
    /// # Errors
    /// Options that do not go together, `--shard auto` outside a
    /// scheduler, a journal or joblog that cannot be read or opened.
    pub(crate) fn setup(
        &self,
        words: &[OsString],
        replace: Option<&str>,
        joblog: Option<&std::path::Path>,
        cpus: usize,
    ) -> Result<Scale, SetupError> {
        let shard = self
            .shard
            .map(|s| s.resolve(|v| std::env::var(v).ok()))
            .transpose()
            .map_err(SetupError::Usage)?;
        let joblog = joblog.map(|p| options::joblog_path(p).0);
        let io = |what: &str, p: &std::path::Path, e: std::io::Error| {
            SetupError::Io(format!("{what} {}: {e}", p.display()))
        };
        let (mut resume, mut retry, mut seqs) = (None, None, None);
        if let Some(again) = self.again() {
            match (&self.journal, &joblog) {
                (Some(j), _) => {
                    resume = Some(
                        resume::from_journal(j, again)
                            .map_err(|e| io("--journal: cannot read", j, e))?,
                    );
                }
                (None, Some(l)) if again == Again::RetryFailed => {
                    let failed = resume::failed_in_joblog(l)
                        .map_err(|e| io("--joblog: cannot read", l, e))?;
                    let (s, cmds): (Vec<u64>, Vec<Vec<u8>>) = failed.into_iter().unzip();
                    seqs = Some(s);
                    retry = Some(cmds);
                }
                (None, Some(l)) => {
                    resume = Some(
                        resume::from_joblog(l, again)
                            .map_err(|e| io("--joblog: cannot read", l, e))?,
                    );
                }
                (None, None) => {
                    return Err(SetupError::Usage(
                        "--resume, --resume-failed and --retry-failed need --journal FILE (or \
                         --joblog FILE)"
                            .into(),
                    ));
                }
            }
        }
        let keyed = self.journal.is_some() || (shard.is_some() && self.shard_by == ShardBy::Hash);
        let selection = Selection {
            identity: keyed.then(|| key::template_identity(words, replace)),
            shard: shard.map(|s| (s, self.shard_by)),
            resume,
            seqs,
            done_before: AtomicU64::new(0),
        };
        let journal = self
            .journal
            .as_deref()
            .map(|p| Journal::open(p).map_err(|e| io("--journal: cannot write", p, e)))
            .transpose()?;
        Ok(Scale {
            selection: (!selection.is_all()).then(|| Arc::new(selection)),
            shard,
            journal,
            admission: Admission::new(self.memfree, self.load, self.delay, cpus).map(Arc::new),
            joblog_append: self.again().is_some(),
            retry,
            grace: self.grace.unwrap_or(super::drain::DEFAULT_GRACE),
        })
    }
}

impl Scale {
    /// The journal line of a finished `job` (started at `start`), if the
    /// run has a journal: made before the job's output is printed and
    /// [`record`](Self::record)ed after, so that a crash between the two
    /// runs the job again rather than lose its output.
    pub(crate) fn journal_line(
        &self,
        job: &Job,
        start: SystemTime,
        result: &Result<spawn::Output, spawn::Error>,
    ) -> Option<Vec<u8>> {
        let (Some(_), Some(key)) = (&self.journal, job.key) else {
            return None;
        };
        let out = match result {
            Ok(o) => Some(o),
            Err(e) => e.output(),
        };
        let (exit, signal) = match (result, out) {
            (_, Some(o)) => (
                o.status.code().unwrap_or(-1),
                o.status.signal().unwrap_or(0),
            ),
            (Err(e), None) => (crate::error_code(e), 0),
            (Ok(_), None) => (0, 0),
        };
        let ok = matches!(result, Ok(o) if o.status.success());
        let entry = Entry {
            key,
            outcome: if ok {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            },
            exit,
            signal,
            seq: job.seq,
            tries: job.tries + 1,
            start,
            runtime: out.map_or(Duration::ZERO, |o| o.report.wall),
            cmd: &job.line,
        };
        Some(entry.line())
    }

    /// Adds a [`journal_line`](Self::journal_line) to the journal.
    pub(crate) fn record(&self, line: Option<Vec<u8>>) {
        if let (Some(journal), Some(line)) = (&self.journal, line) {
            journal.record(&line);
        }
    }

    /// The jobs skipped as done before.
    pub(crate) fn done_before(&self) -> u64 {
        self.selection.as_ref().map_or(0, |s| s.done_before())
    }

    /// Whether the run queues no job ahead: each handed over only when it
    /// may start (admission).
    pub(crate) fn admits(&self) -> bool {
        self.admission.is_some()
    }
}
