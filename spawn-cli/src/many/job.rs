//! One job of `spawn many`: its number, inputs, command line and tag, and
//! the [`Command`] that runs it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use spawn::{Command, Stdio};

use super::input::Inputs;
use super::options::{Runtimes, TimeoutSpec};
use super::shell::plain_words;
use super::template::{Numbers, Template};

/// One job.
#[derive(Clone)]
pub(crate) struct Job {
    /// Its number, from 1, in input order (`{#}`, the joblog's `Seq`,
    /// `$PARALLEL_SEQ`).
    pub seq: u64,
    /// Its job slot (`{%}`, `$PARALLEL_JOBSLOT`), from 1; 0 when the run
    /// does not show slots (see [`Launch::slots`]).
    pub slot: u64,
    /// The command line (bytes, as `sh -c` gets them).
    pub line: Vec<u8>,
    /// What goes before each of its output lines with `--tag`/`--tagstring`.
    pub tag: Option<Vec<u8>>,
    /// How many times it ran before (`--retries`).
    pub tries: u32,
    /// Its output held back until it ends (`--group`), once it runs.
    pub held: Option<std::sync::Arc<super::output::Held>>,
    /// Its key, when the run needs one (`--journal`, `--shard-by hash`).
    pub key: Option<super::key::Key>,
    /// Its place among the jobs this run takes, from 1: `--keep-order`'s
    /// order (`seq` but when `--shard` or `--resume` skip some).
    pub order: u64,
    /// Its inputs, kept for `--results`.
    pub inputs: Option<Inputs>,
    /// `--pipe`: its block, its stdin.
    pub stdin: Option<Vec<u8>>,
    /// With `--memfree`: cancelled to stop this try alone (it is put back
    /// and runs again, see [`super::evict`]); given to its command when
    /// it is pushed.
    pub stop: Option<spawn::CancelToken>,
}

/// How jobs are made from inputs and started.
pub(crate) struct Launch {
    pub template: Template,
    /// Whether inputs are shell-quoted into the template.
    pub quote: bool,
    /// `--tag`/`--tagstring`: the tag template (inputs not quoted).
    pub tag: Option<Template>,
    /// Whether jobs get their job slot (`{%}` or `$PARALLEL_JOBSLOT` in
    /// the command line or tag): then each is made only once a slot is
    /// free (no job queued ahead), so that its slot is the one it runs in.
    pub slots: bool,
    /// `--shell`: always run the shell, even for plain words.
    pub always_shell: bool,
    /// `-v`: each job's command line comes first in its output.
    pub verbose: bool,
    /// The shell that runs command lines that need one (see
    /// [`super::which_shell`]), and whether it takes `sh` syntax.
    pub shell: PathBuf,
    pub posix_shell: bool,
    /// The names of the functions bash exports to the jobs (`export -f`):
    /// a command line that calls one needs the shell.
    pub functions: Vec<Vec<u8>>,
    /// `--timeout`.
    pub timeout: Option<TimeoutSpec>,
    /// `--idle-timeout`.
    pub idle_timeout: Option<Duration>,
    /// `--term-seq`.
    pub term_seq: Option<spawn::StopSequence>,
    /// `--tty`: jobs on the terminal itself, in our process group.
    pub tty: bool,
    /// The run times `--timeout N%` takes the median of.
    pub runtimes: Runtimes,
    /// What `-q`, `-X`, `--pipe` and `--results` change.
    pub more: super::more::Extra,
}

/// The functions bash exports through the environment (`export -f f`
/// sets `BASH_FUNC_f%%`).
pub(crate) fn exported_functions() -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    std::env::vars_os()
        .filter_map(|(k, _)| {
            let k = k.as_bytes();
            let name = k.strip_prefix(b"BASH_FUNC_")?.strip_suffix(b"%%")?;
            Some(name.to_vec())
        })
        .collect()
}

impl Launch {
    /// The job of `inputs` with numbers `n`.
    pub(crate) fn job(&self, n: Numbers, inputs: &Inputs) -> Job {
        let tag = self.tag.as_ref().map(|t| {
            let mut tag = t.expand(inputs, n, false);
            tag.push(b'\t');
            tag
        });
        Job {
            seq: n.seq,
            slot: n.slot,
            line: self.more.line(&self.template, inputs, n, self.quote),
            tag,
            tries: 0,
            held: None,
            key: None,
            order: n.seq,
            inputs: self.more.keep_inputs.then(|| inputs.clone()),
            stdin: self.more.pipe.then(|| inputs.concat()),
            stop: None,
        }
    }

    /// The command that runs `job`: its words executed directly when they
    /// are plain words (with the same result), else the shell's `-c` with
    /// the line; stdin from
    /// `/dev/null` (stdin may be our input), or its `--pipe` block; in a process group of its own
    /// (a Ctrl-C is passed on once, and a stop reaches all it started);
    /// `$PARALLEL_SEQ` (and `$PARALLEL_JOBSLOT`) set as GNU parallel does.
    pub(crate) fn command(&self, job: &Job) -> Command {
        let words = if self.always_shell || !self.posix_shell {
            None
        } else {
            plain_words(&job.line).filter(|w| !self.functions.contains(&w[0]))
        };
        let cmd = match words {
            Some(w) => Command::new(OsStr::from_bytes(&w[0]))
                .args(w[1..].iter().map(|a| OsStr::from_bytes(a))),
            None => Command::new(&self.shell)
                .arg("-c")
                .arg(OsStr::from_bytes(&job.line)),
        };
        let cmd = match &job.stdin {
            Some(block) => cmd.input(block.clone()),
            // The terminal, for a job that reads it: in our process group,
            // the terminal's foreground one (a job in a group of its own
            // would be stopped by SIGTTIN). The run checked for a terminal
            // at its start.
            None if self.tty => match std::fs::File::open("/dev/tty") {
                Ok(tty) => cmd.stdin(tty),
                Err(_) => cmd.stdin(Stdio::null()),
            },
            None => cmd.stdin(Stdio::null()).process_group(0),
        };
        let mut cmd = cmd.env("PARALLEL_SEQ", job.seq.to_string());
        if job.slot > 0 {
            cmd = cmd.env("PARALLEL_JOBSLOT", job.slot.to_string());
        }
        if let Some(t) = self.idle_timeout {
            cmd = cmd.idle_timeout(t);
        }
        if let Some(seq) = &self.term_seq {
            cmd = cmd.stop_sequence(seq.steps().iter().copied());
        }
        match self.timeout() {
            Some(t) => cmd.timeout(t),
            None => cmd,
        }
    }

    /// The timeout of a job made now: `--timeout`, or its percentage of
    /// the median run time of the jobs that succeeded so far (none before
    /// the first).
    fn timeout(&self) -> Option<Duration> {
        match self.timeout? {
            TimeoutSpec::Fixed(t) => Some(t),
            TimeoutSpec::OfMedian(p) => self.runtimes.median().map(|m| m.mul_f64(p / 100.0)),
        }
    }

    /// Whether the timeout is a percentage of the median run time (then
    /// each job is made when it can start, with the median of then).
    pub(crate) fn of_median(&self) -> bool {
        matches!(self.timeout, Some(TimeoutSpec::OfMedian(_)))
    }

    /// A job succeeded after `wall` (for `--timeout N%`).
    pub(crate) fn succeeded(&self, wall: Duration) {
        if self.of_median() {
            self.runtimes.record(wall);
        }
    }
}
