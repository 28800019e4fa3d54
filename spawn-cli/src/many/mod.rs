//! `spawn many`: many jobs at once, GNU parallel's way (its option names
//! where it has them), through one [`spawn::Group`] per run, fed from the
//! input as it is read: commands as arguments or lines of stdin, or a template with
//! `{}`-style replacement strings filled from stdin or `:::` lists.
//!
//! The parts, one concept each: [`input`] (where jobs come from),
//! [`template`] and [`shell`] (their command lines), [`job`] (the command
//! that runs one), [`feeder`] (the input read into the group's feed,
//! bounded), [`output`] (the output modes), [`spill`] (`--group` past the
//! memory bound), [`options`] (option values in GNU parallel's forms),
//! [`which_shell`] (the shell of the jobs), [`progress`] (the
//! terminal line), [`joblog`], [`halt`], [`control`] (stopping early: Ctrl-C,
//! a broken stdout, `--halt`) and [`runner`] (the library's group).
//!
//! At scale ([`scale`]: its options and the parts they make): [`journal`]
//! and [`resume`] (resumable runs, jobs named by [`key`]), [`shard`] and
//! [`select`] (which jobs this run takes), [`admission`] and [`cgroup`]
//! (when a job may start; `-j`'s default), [`evict`] (`--memfree`'s
//! stop of the youngest job when memory runs short), [`drain`] (the grace after a
//! signal), [`exit_code`] (the contract) and [`summary`] (`--json`'s last
//! line).

mod admission;
mod bar;
mod cgroup;
mod control;
mod drain;
mod evict;
pub(crate) mod exit_code;
mod feeder;
mod halt;
mod input;
mod job;
mod joblog;
mod journal;
mod key;
mod more;
mod multi;
mod notice;
mod options;
mod output;
mod pipe;
mod progress;
mod results;
mod resume;
mod runner;
mod scale;
mod select;
mod shard;
mod shell;
mod sources;
mod spill;
mod summary;
mod template;
mod which_shell;
mod words;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use clap::Args;

use crate::screen::{failure_code, screen};
use control::{Control, Stop};
use feeder::{Jobs, Lookahead};
use input::Records;
use job::Launch;
use output::{Done, Mode, Printer};
use progress::{Counts, Ticker};

const AFTER_HELP: &str = "\
Inputs (GNU parallel's rules):
  printf 'cmd 1\\ncmd 2\\n' | spawn many each line of stdin is one command
  spawn many ::: 'cmd 1' 'cmd 2'     each argument after ::: is one command
  ls *.py | spawn many -- wc -l {}   a template: one job per line of stdin
  find . | spawn many -- gzip --best no replacement string: the input is appended
  spawn many -- gzip {} ::: a b c    a template: one job per argument after :::
  ls | spawn many -X -- rm {}        as many inputs per job as fit on a line (-m too)
  cat big | spawn many --pipe wc -l  stdin in blocks (--block 1M), one per job's stdin
  The words of the command are joined with spaces into one command line.
  Replacement strings: {} the input (shell-quoted), {.} without extension,
  {/} basename, {//} directory, {/.} basename without extension, {#} job number,
  {%} job slot; {1} {2}... {-1} one input (of several ::: lists, -n or --colsep),
  also {1.} {1/} {1//} {1/.}. Jobs get $PARALLEL_SEQ (and $PARALLEL_JOBSLOT).
  A command of plain words runs directly; anything else runs with the shell -c:
  $PARALLEL_SHELL, else the nearest parent shell, else $SHELL, else /bin/sh.

Output: --group (default) prints each job's output when it ends; --line-buffer
  prints whole lines as they come; --keep-order prints jobs in input order;
  --json prints one JSON object per job. On a terminal a progress line is shown
  on stderr, always below the output.

Ctrl-C (or TERM, HUP): no job starts any more, not even a queued one; the
  running jobs get the signal and spawn many exits after them, the journal
  and joblog written. A second one, or --grace (25 s) after the first, stops
  them (TERM to their process groups, KILL after 2 s).

Exit status (one contract for schedulers; ranges never overlap):
  0        every job succeeded
  1-101    that many jobs failed (101: 101 or more), as GNU parallel
  125      spawn many's own error: stdin unreadable, stdout, --joblog or
           --journal unwritable
  126      bad options or arguments (GNU parallel: 255)
  128+N    stopped by signal N after the drain (130 Ctrl-C, 143 TERM)
  141      stdout is a closed pipe
  With --halt: 0 when it halts on successes; on failures or jobs done, the
  number of failed jobs, or with N% their percent of all jobs, or with a
  threshold of one job that job's code.

At scale: --journal FILE with --resume (--resume-failed, --retry-failed) takes
  up a killed run, whatever the order of its input; --shard K/N (or auto in a
  Slurm array, auto/N in a Kubernetes Indexed Job) runs one share of the jobs;
  -j defaults to the CPUs the cgroup and affinity allow; --memfree, --load and
  --delay hold starts; --json ends with a summary line.

Example:
  spawn many -j 4 --tag ::: 'echo one' 'sleep 1' 'ls /'
  find . -name '*.log' -print0 | spawn many -0 --joblog jobs.tsv -- gzip {}
  spawn many --halt now,fail=1 --retries 3 -- ./test.sh {} ::: 1 2 3 4";

/// `spawn many`'s options.
#[derive(Args)]
#[command(after_help = AFTER_HELP, args_override_self = true)]
pub(crate) struct ManyArgs {
    /// Run at most N jobs at once (0: no limit; +N, -N: the number of CPUs plus N; N%: of
    /// the CPUs) [default: the CPUs this process may use: the affinity mask, less where the
    /// cgroup's CPU quota is smaller, rounded up].
    #[arg(short = 'j', long = "jobs", short_alias = 'P', alias = "max-procs", value_name = "N", value_parser = options::JobsSpec::parse, allow_hyphen_values = true)]
    jobs: Option<options::JobsSpec>,
    /// Print each job's output together when it ends (the default).
    #[arg(long, conflicts_with_all = ["line_buffer", "json", "ungroup"])]
    group: bool,
    /// Let the jobs write to our stdout and stderr themselves, as they come (lines of jobs
    /// may mix, even torn; the fastest).
    #[arg(short = 'u', long, conflicts_with_all = ["line_buffer", "json", "keep_order", "tag", "tagstring"])]
    ungroup: bool,
    /// Run the jobs one at a time on the terminal itself (stdin from /dev/tty, stdout and
    /// stderr ours, in our process group), for programs that need it (an editor, a
    /// prompt); implies -j1 and --ungroup, as GNU parallel's --tty.
    #[arg(long, conflicts_with_all = ["line_buffer", "json", "keep_order", "tag", "tagstring", "group"])]
    tty: bool,
    /// Print whole lines as they come (lines of different jobs interleave, never torn).
    #[arg(long, alias = "lb", conflicts_with_all = ["json"])]
    line_buffer: bool,
    /// Print the jobs' output in the order of the input (with --line-buffer: the first
    /// job's lines as they come, the next ones' when it has ended).
    #[arg(short = 'k', long)]
    keep_order: bool,
    /// Print one JSON object per job (index, command, status, stdout, stderr, report, error) as it ends.
    #[arg(long)]
    json: bool,
    /// Put the job's input (or command) and a TAB before each line of its output.
    #[arg(long)]
    tag: bool,
    /// Put STR (with replacement strings) and a TAB before each line of output.
    #[arg(long, value_name = "STR")]
    tagstring: Option<String>,
    /// Run every command with the shell, even when it is plain words.
    #[arg(long)]
    shell: bool,
    /// Stop each job after this long (seconds, or 1m30s; N%: of the median run time of the
    /// jobs that succeeded): TERM to its group, KILL after the grace.
    #[arg(long, value_name = "DURATION", value_parser = options::parse_timeout)]
    timeout: Option<options::TimeoutSpec>,
    /// Stop a job that writes nothing on stdout or stderr for this long (seconds, or 1m30s),
    /// as --timeout stops it.
    #[arg(long, value_name = "DURATION", value_parser = options::parse_idle_timeout, conflicts_with = "ungroup")]
    idle_timeout: Option<std::time::Duration>,
    /// How a job is stopped (a timeout, --halt now, Ctrl-C): SIGNAL,MS pairs in order, each to
    /// the job's group, the next only while something is alive, then KILL until the group is
    /// empty (GNU parallel's form, e.g. TERM,200,TERM,100,TERM,50,KILL,25). Default TERM, then
    /// KILL after 2 s.
    #[arg(long, value_name = "SEQ")]
    term_seq: Option<spawn::StopSequence>,
    /// When to stop early: never, now|soon,fail=N|success=N|done=N (N jobs, or N% of all).
    #[arg(
        long,
        value_name = "POLICY",
        value_parser = halt::parse,
        default_value = "never",
        allow_hyphen_values = true
    )]
    halt: halt::Policy,
    /// Run a failing job up to N times in all (0: until it succeeds).
    #[arg(long, value_name = "N", default_value_t = 1)]
    retries: u32,
    /// Write a line per finished job to FILE (GNU parallel's tab-separated format; +FILE appends).
    #[arg(long, alias = "jl", value_name = "FILE")]
    joblog: Option<PathBuf>,
    /// Print the commands that would run, one per line, and run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Read input sources from FILE (`-`: stdin), before those after ::: and ::::.
    #[arg(short = 'a', long = "arg-file", value_name = "FILE")]
    arg_file: Vec<OsString>,
    /// Take the Nth input of each source together (shorter ones wrap), not every combination.
    #[arg(long)]
    link: bool,
    /// Use STR as the replacement string instead of {}.
    #[arg(short = 'I', value_name = "STR")]
    replace: Option<String>,
    /// Inputs end with this character (\n, \t, \0, \x1f, \037 or one character).
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    delimiter: Option<String>,
    /// Inputs on stdin end with NUL instead of newline (`find -print0`).
    #[arg(short = '0', long = "null")]
    null: bool,
    /// Split each input into columns at this regular expression: {1}, {2}… (GNU parallel's).
    #[arg(long, value_name = "REGEX")]
    colsep: Option<String>,
    /// Give each job N inputs (joined by spaces in `{}`; {1}..{N} each); -N is the same.
    #[arg(
        short = 'n',
        long = "max-args",
        short_alias = 'N',
        alias = "max-replace-args",
        value_name = "N",
        default_value_t = 1
    )]
    max_args: usize,
    /// Print each job's command line before its output (on stdout).
    #[arg(short = 'v', conflicts_with_all = ["json", "ungroup"])]
    verbose: bool,
    /// Run the jobs in a random order (all the input is read first).
    #[arg(long)]
    shuf: bool,
    #[command(flatten)]
    scale: scale::ScaleArgs,
    #[command(flatten)]
    more: more::MoreArgs,
    /// The command (its words joined with spaces; the input appended when it has no
    /// replacement string) and its `:::` lists; none: each input is a command.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    commands: Vec<OsString>,
}

fn launch(
    a: &ManyArgs,
    template: template::Template,
    quote: bool,
    more: more::Extra,
) -> Result<Launch, String> {
    let tag = match (&a.tagstring, a.tag) {
        (Some(t), _) => {
            Some(template::Template::parse(t.as_bytes()).map_err(|e| format!("--tagstring {e}"))?)
        }
        (None, true) => Some(template::Template::input_only()),
        (None, false) => None,
    };
    // The slot is shown by {%}, or read from the environment by a command
    // line that names it.
    let named = a
        .commands
        .iter()
        .any(|w| w.as_bytes().windows(16).any(|w| w == b"PARALLEL_JOBSLOT"));
    let shell = which_shell::shell();
    if !is_executable(&shell) {
        return Err(format!(
            "many: the shell {} is not an executable program (from $PARALLEL_SHELL, a parent \
             shell or $SHELL)",
            shell.display()
        ));
    }
    let slots =
        named || template.uses_slot() || tag.as_ref().is_some_and(template::Template::uses_slot);
    Ok(Launch {
        template,
        quote,
        tag,
        slots,
        always_shell: a.shell,
        verbose: a.verbose,
        posix_shell: which_shell::is_posix(shell.as_os_str()),
        shell,
        functions: job::exported_functions(),
        timeout: a.timeout,
        idle_timeout: a.idle_timeout,
        term_seq: a.term_seq,
        tty: a.tty,
        runtimes: options::Runtimes::default(),
        more,
    })
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `--dry-run`: the command lines of the jobs `selection` takes (all
/// when none), one per line (job slots as if each job took as long).
fn dry_run(
    launch: &Launch,
    records: Records,
    max_running: usize,
    selection: Option<&select::Selection>,
) -> i32 {
    let mut k = 0u64;
    for (ordinal, r) in (1u64..).zip(records) {
        match r {
            Ok(inputs) => {
                let seq = match selection.map(|s| s.pick(ordinal, &inputs)) {
                    None => ordinal,
                    Some(Some(p)) => p.seq,
                    Some(None) => continue,
                };
                let slot = if launch.slots {
                    k % (max_running.max(1) as u64) + 1
                } else {
                    0
                };
                k += 1;
                let n = template::Numbers { seq, slot };
                let mut line = launch.job(n, &inputs).line;
                line.push(b'\n');
                if let Err(f) = screen().out(&line) {
                    return failure_code(&f);
                }
            }
            Err(e) => {
                screen().note(&format!("spawn many: cannot read stdin: {e}"));
                return 125;
            }
        }
    }
    0
}

/// How many jobs run at once: `-j`, or the CPUs; one with `--tty`.
fn jobs_at_once(a: &ManyArgs, cpus: usize) -> usize {
    if a.tty {
        1
    } else {
        a.jobs.map_or(cpus, |j| j.resolve(cpus))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The template and inputs `a` says.
fn plan(a: &ManyArgs) -> Result<input::Plan, String> {
    let delim = match (&a.delimiter, a.null) {
        (Some(d), _) => options::delimiter(d)?,
        (None, true) => 0,
        (None, false) => b'\n',
    };
    input::plan(
        &a.commands,
        &input::How {
            delim,
            arg_files: &a.arg_file,
            link: a.link,
            replace: a.replace.as_deref().map(str::as_bytes),
        },
    )
}

/// Runs `spawn many`; returns the exit code.
pub(crate) fn many(a: &ManyArgs) -> i32 {
    let began = Instant::now();
    let input::Plan {
        mut template,
        mut quote,
        source,
        command,
    } = match plan(a) {
        Ok(p) => p,
        Err(m) => return exit_code::usage(&m),
    };
    let input = a
        .replace
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or("{}");
    let lists = matches!(source, input::Source::Lists(_));
    let extra = match a
        .more
        .extra(&command, &mut template, input.as_bytes(), lists, a.max_args)
    {
        Ok(e) => e,
        Err(m) => return exit_code::usage(&m),
    };
    let cpus = cgroup::usable_cpus();
    let mut scale =
        match a
            .scale
            .setup(&a.commands, a.replace.as_deref(), a.joblog.as_deref(), cpus)
        {
            Ok(s) => s,
            Err(e) => return e.code(),
        };
    let max_running = jobs_at_once(a, cpus);
    let max_args = a.max_args.max(1);
    let mut total = source.len().map(|n| n.div_ceil(max_args as u64));
    let mut records = match a.more.blocks() {
        Ok(blocks) if a.more.pipe => blocks,
        Ok(_) => source.records(),
        Err(m) => return exit_code::usage(&m),
    };
    if let Some(sep) = &a.colsep {
        match regex::bytes::Regex::new(sep) {
            Ok(sep) => records = input::columns(records, sep),
            Err(e) => return exit_code::usage(&format!("--colsep {sep:?}: {e}")),
        }
    }
    let mut records = if a.more.fills_lines() {
        total = None;
        let (t, q, e) = (template.clone(), quote, extra.clone());
        let line: multi::Cost = Box::new(move |inputs| {
            let n = template::Numbers { seq: 1, slot: 1 };
            e.line(&t, inputs, n, q).len()
        });
        multi::chunked(records, line, max_running)
    } else {
        input::chunked(records, max_args)
    };
    if let Some(cmds) = scale.retry.take() {
        // GNU's --retry-failed on a joblog: its failed commands, as they are.
        (template, quote, total) = (template::Template::input_only(), false, None);
        records = Box::new(cmds.into_iter().map(|c| Ok(vec![c])));
    }
    if scale.selection.is_some() {
        total = None;
    }
    // A percentage of all the jobs needs them all: read before any starts
    // (GNU parallel does the same).
    let (records, total) = match &a.halt.0 {
        _ if a.shuf => input::shuffled(records),
        Some(h) if h.is_percent() && total.is_none() => input::read_all(records),
        _ => (records, total),
    };
    if a.tty
        && let Err(e) = std::fs::File::open("/dev/tty")
    {
        screen().note(&format!(
            "spawn many: --tty: no terminal to run the jobs on (/dev/tty: {e})"
        ));
        return 125;
    }
    let launch = match launch(a, template, quote, extra) {
        Ok(l) => Arc::new(l),
        Err(m) => return exit_code::usage(m.trim_start_matches("many: ")),
    };
    let max_running = jobs_at_once(a, cpus);
    if a.dry_run {
        return dry_run(&launch, records, max_running, scale.selection.as_deref());
    }
    let joblog_file = a.joblog.as_deref().map(options::joblog_path);
    let mut joblog = match joblog_file
        .as_ref()
        .map(|(path, append)| joblog::Joblog::open(path, *append || scale.joblog_append))
        .transpose()
    {
        Ok(j) => j,
        Err(e) => {
            let path = joblog_file.map(|(p, _)| p).unwrap_or_default();
            screen().note(&format!(
                "spawn many: --joblog {}: cannot write: {e}",
                path.display()
            ));
            return 125;
        }
    };
    let mut results = match a
        .more
        .results
        .as_deref()
        .map(|name| results::Results::open(name, input.as_bytes()))
        .transpose()
    {
        Ok(r) => r,
        Err(m) => {
            screen().note(&format!("spawn many: {m}"));
            return 125;
        }
    };
    let mode = if results.is_some() {
        Mode::Results
    } else if a.json {
        Mode::Json
    } else if a.ungroup || a.tty {
        Mode::Ungroup
    } else if a.line_buffer {
        Mode::LineBuffer
    } else {
        Mode::Group
    };
    let control = Arc::new(Control::new());
    // Job control's forwarder (Ctrl-Z, fg), also given the first
    // interrupt by hand (below).
    let forwarder = crate::signals::job_control()
        .cloned()
        .or_else(|| spawn::Forwarder::new().ok());
    if let Some(i) = crate::signals::interrupts() {
        let (c, f, grace) = (Arc::clone(&control), forwarder.clone(), scale.grace);
        i.on_signal(move |sig, n| {
            // The first: no job starts any more (none of those queued
            // either: a job ended by the signal must not make room for
            // one), then the running ones get the signal and finish as it
            // makes them. The second stops them (the stop signal, the
            // grace, KILL).
            c.stop(Stop::Signal(sig), n > 1);
            if n == 1 {
                drain::stop_after(&c, sig, grace);
                if let Some(f) = &f {
                    f.forward(sig);
                }
            }
        });
    }
    let counts = Arc::new(Counts::new(total));
    if a.tty {
        // The terminal is the jobs'.
        screen().no_progress();
    }
    let ticker = Ticker::start(&counts);
    let mut bar = bar::Bar::new(a.more.bar, a.more.eta);
    let mut notice = notice::Notice::of_options(launch.of_median(), a.more.bar || a.more.eta);
    let pool = Arc::new(output::BufPool::default());
    let turn =
        (a.keep_order && mode == Mode::LineBuffer).then(|| Arc::new(output::Turn::default()));
    let stage = (mode == Mode::Group && !a.keep_order).then(|| Arc::new(spill::Stage::default()));
    let mut printer = Printer::new(
        mode,
        a.keep_order,
        turn.clone(),
        stage.clone(),
        Arc::clone(&control),
        Arc::clone(&pool),
    );
    let jobs = Arc::new(
        Jobs::new(
            Arc::clone(&launch),
            mode,
            turn,
            stage,
            Arc::clone(&control),
            pool,
            max_running,
            if a.halt.0.is_some() || launch.slots || launch.of_median() || scale.admits() {
                Lookahead::Decided
            } else {
                Lookahead::Slots
            },
        )
        .with_scale(scale.selection.clone(), scale.admission.clone()),
    );
    jobs.start_reading(records, &counts);
    let memory_watch = evict::MemoryWatch::start(&jobs, scale.admission.as_ref(), &control);
    let mut joblog_failed = false;
    let mut not_started = 0u64;
    let mut stopped = 0u64;
    let hooks = runner::Hooks {
        soon: control.soon_token(),
        now: control.now_token(),
        forwarder: forwarder.as_ref(),
        progress: {
            let counts = Arc::clone(&counts);
            Box::new(move |p| {
                counts.running.store(p.running as u64, Ordering::Relaxed);
            })
        },
    };
    for (ix, result) in runner::results(jobs.feed(), max_running, hooks) {
        let ended = SystemTime::now();
        if jobs.put_back(ix, &result) {
            // Stopped for --memfree: it runs again; this try is no result.
            continue;
        }
        if let Err(spawn::Error::Cancelled { partial, .. }) = &result
            && partial.report.pid == 0
        {
            // Stopped before it started: it never ran.
            if jobs.finish(ix, |_| false).is_some() {
                jobs.release();
            }
            not_started += 1;
            continue;
        }
        let ok = matches!(&result, Ok(o) if o.status.success());
        if let Ok(o) = &result
            && ok
        {
            launch.succeeded(o.report.wall);
        }
        let tries = options::tries(a.retries);
        let retry = |job: &job::Job| !ok && job.tries + 1 < tries && !control.stopping();
        let Some(job) = jobs.finish(ix, retry) else {
            continue;
        };
        // A job we stopped (Ctrl-C, --halt now, a closed stdout) did
        // not fail on its own: it is counted as stopped.
        let ours = control.ended_it(&result);
        stopped += u64::from(ours);
        let done = counts.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failed = counts.failed.load(Ordering::Relaxed) + u64::from(!ok && !ours);
        counts.failed.store(failed, Ordering::Relaxed);
        let wall = match &result {
            Ok(o) => Some(o.report.wall),
            Err(e) => e.output().map(|o| o.report.wall),
        };
        let start = wall.and_then(|w| ended.checked_sub(w)).unwrap_or(ended);
        // Not a job our stop ended: it did not finish.
        let journal_line = (!ours)
            .then(|| scale.journal_line(&job, start, &result))
            .flatten();
        if let Some(log) = &mut joblog {
            if let Err(e) = log.record(&job, start, &result)
                && !joblog_failed
            {
                joblog_failed = true;
                screen().note(&format!("spawn many: --joblog: cannot write: {e}"));
            }
        }
        if let Some(r) = &mut results
            && let Err(e) = r.record(&job, start, &result)
            && !joblog_failed
        {
            joblog_failed = true;
            screen().note(&format!("spawn many: --results: cannot write: {e}"));
        }
        let code = match &result {
            Ok(o) => o.status.shell_code(),
            Err(e) => crate::error_code(e),
        };
        printer.finished(Done { job, result });
        scale.record(journal_line);
        let tally = halt::Tally {
            done,
            failed,
            total: counts.total(),
        };
        if let Some(h) = &a.halt.0
            && !control.stopping()
            && h.triggered(&tally)
        {
            let code = h.code_when_triggered(&tally, code);
            control.stop(Stop::Halt(code), h.when == halt::When::Now);
        }
        // Decided: the next job may come (none once the run stops).
        jobs.release();
        screen().progress(counts.text());
        if let Some(b) = &mut bar {
            b.update(&counts);
        }
    }
    drop(memory_watch);
    // Read and never taken by the group: the run stopped first.
    not_started += jobs.never_taken() as u64;
    drop(ticker);
    if let Some(b) = &mut bar {
        b.finish(&counts);
    }
    printer.flush();
    let done = counts.done.load(Ordering::Relaxed);
    let failed = counts.failed.load(Ordering::Relaxed);
    let summary = |why: &str| {
        let mut skipped = String::new();
        if stopped > 0 {
            skipped += &format!(", {stopped} stopped");
        }
        if not_started > 0 {
            skipped += &format!(", {not_started} not started");
        }
        screen().note(&format!(
            "spawn many: {done} job{}, {failed} failed{skipped}{why}",
            plural(done)
        ));
    };
    let journal_failed = match scale.journal.take().map(journal::Journal::finish) {
        Some(Err(e)) => {
            screen().note(&format!("spawn many: --journal: cannot write: {e}"));
            true
        }
        _ => false,
    };
    let normal = exit_code::of_failed(failed);
    let code = match control.why() {
        Some(Stop::Output(f)) => return failure_code(&f),
        Some(Stop::Signal(sig)) => {
            let name = sig.name().map_or_else(|| sig.to_string(), str::to_owned);
            summary(&format!("; stopped by {name}"));
            notice.met(notice::Difference::SignalExit {
                code: exit_code::of_signal(sig),
                signal: name,
            });
            exit_code::of_signal(sig)
        }
        Some(Stop::Input(m)) => {
            summary("");
            screen().note(&format!("spawn many: {m}"));
            exit_code::RUNNER_ERROR
        }
        Some(Stop::Halt(code)) => {
            let policy = a.halt.0.map(|h| h.to_string()).unwrap_or_default();
            summary(&format!("; halted (--halt {policy})"));
            code
        }
        None => {
            if failed > 0 || screen().is_terminal() {
                summary("");
            }
            let tally = halt::Tally {
                done,
                failed,
                total: counts.total(),
            };
            a.halt.0.map_or(normal, |h| h.code_at_end(&tally))
        }
    };
    notice.print();
    let code = if (joblog_failed || journal_failed) && code == 0 {
        exit_code::RUNNER_ERROR
    } else {
        code
    };
    if a.json {
        let s = summary::Summary {
            done,
            failed,
            stopped,
            not_started,
            done_before: scale.done_before(),
            wall: began.elapsed(),
            shard: scale.shard,
            max_running,
            exit: code,
        };
        if let Err(f) = crate::json::print_line(&s.json()) {
            return failure_code(&f);
        }
    }
    code
}
