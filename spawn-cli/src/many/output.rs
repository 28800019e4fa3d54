//! Where the output of `spawn many`'s jobs goes, in one of GNU parallel's
//! modes:
//!
//! - `--group` (the default): each job's stdout and stderr are collected
//!   and printed together when it ends, so jobs never mix;
//! - `--line-buffer`: whole lines as they come, lines of different jobs
//!   interleaved but never torn (each read's complete lines in one write);
//!   `--group` holds a job's output past [`GROUP_LIMIT`] in a temporary
//!   file, or streams it when no other job's output can come meanwhile
//!   (see [`super::spill`]);
//! - `--keep-order`: as `--group`, in the order of the input; with
//!   `--line-buffer`, the lines of the first job not printed yet as they
//!   come, the others' held until their turn ([`Turn`]);
//! - `--json`: one JSON object per job (status, output, report) as it ends.
//!
//! `--tag`/`--tagstring` put the job's tag and a TAB before each line.
//! Everything is written through [`screen`], which sees write errors
//! and keeps the progress line out of the way.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use spawn::{Command, Error, Sink, Stdio};

use super::control::{Control, Stop};
use super::job::Job;
use super::spill::{Owner, SpillFile, Stage};
use crate::screen::screen;

/// How job output is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Each job's output together, when it ends.
    Group,
    /// Whole lines as they come.
    LineBuffer,
    /// One JSON object per job.
    Json,
    /// The jobs write to our stdout and stderr themselves (`-u`).
    Ungroup,
    /// Collected for `--results`, not printed.
    Results,
}

/// Which of our streams a job's stream goes to.
#[derive(Clone, Copy)]
enum Ours {
    Out,
    Err,
}

/// Writes what `pending` holds in its spill file (tagged), and empties it.
fn write_spilled(to: Ours, tag: Option<&[u8]>, pending: &mut Pending, control: &Control) {
    let Some(file) = pending.spill.take() else {
        return;
    };
    // A chunk may end inside a line: the tag goes only at line starts.
    let mut at_start = true;
    let read = file.read_back(|chunk| {
        let mut buf = Vec::with_capacity(chunk.len() + 64);
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            if at_start && let Some(t) = tag {
                buf.extend_from_slice(t);
            }
            buf.extend_from_slice(line);
            at_start = line.last() == Some(&b'\n');
        }
        write(to, &buf, control);
    });
    if let Err(e) = read {
        screen().note(&format!("spawn many: cannot read back held output: {e}"));
    }
}

/// `data` with `tag` before each line (a last line without `\n` keeps
/// none, as GNU parallel's `--tag` does).
fn tagged(tag: Option<&[u8]>, data: &[u8], out: &mut Vec<u8>) {
    let Some(tag) = tag else {
        out.extend_from_slice(data);
        return;
    };
    for line in data.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(tag);
        out.extend_from_slice(line);
    }
}

fn write(to: Ours, data: &[u8], control: &Control) {
    if data.is_empty() {
        return;
    }
    match to {
        Ours::Out => {
            if let Err(f) = screen().out(data) {
                control.stop(Stop::Output(f), true);
            }
        }
        Ours::Err => screen().err(data),
    }
}

/// A job's output held back by `--group` beyond this many bytes of one
/// stream is streamed instead (whole lines, as `--line-buffer` does), so
/// that a job with endless output (`yes`) costs bounded memory and still
/// meets a closed stdout.
pub(crate) const GROUP_LIMIT: usize = 8 << 20;

/// Most bytes of buffer capacity [`BufPool`] keeps between jobs.
const POOL_BYTES: usize = 64 << 20;

/// The buffers of printed jobs' held output, kept for the next jobs. A
/// job's output is then held in memory that is already faulted in, instead
/// of a fresh allocation whose every page faults (and which the allocator
/// gives back to the kernel between jobs, to fault again): with 1,000 jobs
/// of 1 MiB, those faults were most of our CPU time.
#[derive(Default)]
pub(crate) struct BufPool {
    /// The kept buffers (empty, with their capacity) and their capacity in
    /// all.
    free: Mutex<(Vec<Vec<u8>>, usize)>,
}

impl BufPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Vec<u8>>, usize)> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A kept buffer, or a new one.
    fn take(&self) -> Vec<u8> {
        let mut free = self.lock();
        match free.0.pop() {
            Some(v) => {
                free.1 -= v.capacity();
                v
            }
            None => Vec::new(),
        }
    }

    /// Keeps `buf` for a later job, if the pool has room for it.
    fn give(&self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap == 0 {
            return;
        }
        buf.clear();
        let mut free = self.lock();
        if free.1 + cap <= POOL_BYTES {
            free.1 += cap;
            free.0.push(buf);
        }
    }
}

/// What a job's stream has produced and not printed.
#[derive(Default)]
struct Pending {
    /// Held past [`GROUP_LIMIT`]: the output so far, `buf` empty.
    spill: Option<SpillFile>,
    buf: Vec<u8>,
    /// Printing as lines come (`--line-buffer`, or past [`GROUP_LIMIT`]).
    streaming: bool,
}

/// The output of one job held back for `--group`: its stdout and stderr.
#[derive(Default)]
pub(crate) struct Held {
    out: Mutex<Pending>,
    err: Mutex<Pending>,
}

impl Held {
    fn pending(&self, to: Ours) -> std::sync::MutexGuard<'_, Pending> {
        let m = match to {
            Ours::Out => &self.out,
            Ours::Err => &self.err,
        };
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, to: Ours) -> Vec<u8> {
        std::mem::take(&mut self.pending(to).buf)
    }
}

/// Whose turn it is to stream with `--keep-order --line-buffer`: the first
/// job (in input order) not printed yet. The others hold their output
/// until their turn; then what they hold goes out and they stream.
#[derive(Default)]
pub(crate) struct Turn {
    state: Mutex<TurnState>,
}

#[derive(Default)]
struct TurnState {
    /// The job number whose turn it is (0 before the first: job 1's).
    current: u64,
    /// The output of the jobs that run and wait for their turn.
    waiting: std::collections::HashMap<u64, (Arc<Held>, Option<Vec<u8>>)>,
}

impl Turn {
    fn lock(&self) -> std::sync::MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Job `seq` starts with output `held`: it streams if it is its turn,
    /// else it waits.
    fn enter(&self, seq: u64, held: &Arc<Held>, tag: Option<&[u8]>) {
        let mut t = self.lock();
        let current = t.current.max(1);
        if seq == current {
            held.pending(Ours::Out).streaming = true;
            held.pending(Ours::Err).streaming = true;
        } else {
            t.waiting
                .insert(seq, (Arc::clone(held), tag.map(<[u8]>::to_vec)));
        }
    }

    /// Job `seq` was printed: the next one's turn comes (its whole lines
    /// held so far go out, and it streams from now on, if it runs).
    fn next(&self, seq: u64, control: &Control) {
        let mut t = self.lock();
        t.waiting.remove(&seq);
        t.current = seq + 1;
        let Some((held, tag)) = t.waiting.remove(&(seq + 1)) else {
            return;
        };
        for to in [Ours::Out, Ours::Err] {
            let mut p = held.pending(to);
            p.streaming = true;
            write_spilled(to, tag.as_deref(), &mut p, control);
            let whole = p.buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let lines: Vec<u8> = p.buf.drain(..whole).collect();
            let mut out = Vec::with_capacity(lines.len());
            tagged(tag.as_deref(), &lines, &mut out);
            write(to, &out, control);
        }
    }
}

/// The sink of one job's stream: held in [`Held`] until the job ends
/// (`--group`), or streamed, each chunk's complete lines in one write (the
/// rest waits for its `\n`, the end, or 1 MiB).
struct JobStream {
    to: Ours,
    /// The job's number.
    seq: u64,
    /// With `--group` (unordered): who may stream past the bound.
    stage: Option<Arc<Stage>>,
    tag: Option<Vec<u8>>,
    held: Arc<Held>,
    control: Arc<Control>,
    pool: Arc<BufPool>,
}

impl JobStream {
    /// Writes whole lines out (tagged, if the job has a tag).
    fn emit(&self, lines: &[u8]) {
        match self.tag.as_deref() {
            // Untagged, the bytes go out as they came: no copy.
            None => write(self.to, lines, &self.control),
            Some(tag) => {
                let mut buf = Vec::with_capacity(lines.len() + 64);
                tagged(Some(tag), lines, &mut buf);
                write(self.to, &buf, &self.control);
            }
        }
    }

    /// Streams `data` (after what `pending` holds): its complete lines
    /// in one write, the rest kept until its `\n`, the end, or
    /// [`spawn::MAX_LINE`] bytes. Only the bytes of a line not finished
    /// yet are copied.
    fn stream(&self, pending: &mut Pending, data: &[u8]) {
        let buf = &mut pending.buf;
        match data.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                if buf.is_empty() {
                    self.emit(&data[..=end]);
                } else {
                    buf.extend_from_slice(&data[..=end]);
                    self.emit(buf);
                    buf.clear();
                }
                buf.extend_from_slice(&data[end + 1..]);
            }
            None => {
                buf.extend_from_slice(data);
                if buf.len() >= spawn::MAX_LINE {
                    self.emit(buf);
                    buf.clear();
                }
            }
        }
    }
}

impl JobStream {
    /// The held bytes are past [`GROUP_LIMIT`]: they stream if this job
    /// may (no other's output can come meanwhile), else they go to a
    /// spill file (or stream, if none can be made).
    fn past_limit(&self, p: &mut Pending) {
        let may_stream = self
            .stage
            .as_ref()
            .is_some_and(|s| s.claim(Owner::Job(self.seq)));
        if !may_stream {
            match SpillFile::new().and_then(|mut f| f.append(&p.buf).map(|()| f)) {
                Ok(f) => {
                    p.spill = Some(f);
                    let held = std::mem::take(&mut p.buf);
                    self.pool.give(held);
                    return;
                }
                Err(e) => screen().note(&format!("spawn many: cannot hold output: {e}")),
            }
        }
        p.streaming = true;
        let held = std::mem::take(&mut p.buf);
        self.stream(p, &held);
        self.pool.give(held);
    }
}

impl io::Write for JobStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // The stream's pending lock is held while its lines are written:
        // only this stream and the printer (at the job's end) take it, and
        // nothing takes it while holding the screen's lock.
        let mut p = self.held.pending(self.to);
        if p.streaming {
            self.stream(&mut p, data);
            return Ok(data.len());
        }
        if let Some(file) = &mut p.spill {
            if let Err(e) = file.append(data) {
                // The disk is full: what the file has comes out at the
                // end; the rest streams meanwhile.
                screen().note(&format!("spawn many: cannot hold output: {e}"));
                p.streaming = true;
                self.stream(&mut p, data);
            }
            return Ok(data.len());
        }
        if p.buf.capacity() == 0 {
            p.buf = self.pool.take();
        }
        p.buf.extend_from_slice(data);
        if p.buf.len() > GROUP_LIMIT {
            self.past_limit(&mut p);
        }
        Ok(data.len())
    }

    /// Called at the end of the stream: a streamed stream's last line
    /// (without a `\n`); a held one waits for the job's end.
    fn flush(&mut self) -> io::Result<()> {
        let mut p = self.held.pending(self.to);
        if p.streaming && !p.buf.is_empty() {
            let rest = std::mem::take(&mut p.buf);
            drop(p);
            self.emit(&rest);
        }
        Ok(())
    }
}

/// Sets where the stdout and stderr of `cmd`, which runs `job`, go in
/// `mode` (and gives `job` its [`Held`] output, its command line first
/// when `verbose`); `turn` with `--keep-order --line-buffer`.
#[allow(clippy::too_many_arguments)] // the parts of one run, each its own
pub(crate) fn route(
    mode: Mode,
    verbose: bool,
    turn: Option<&Turn>,
    stage: Option<&Arc<Stage>>,
    cmd: Command,
    job: &mut Job,
    control: &Arc<Control>,
    pool: &Arc<BufPool>,
) -> Command {
    match mode {
        Mode::Json | Mode::Results => return cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
        Mode::Ungroup => return cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit()),
        Mode::Group | Mode::LineBuffer => {}
    }
    let held = Arc::new(Held::default());
    if verbose {
        // `-v`: the command line first, as part of the job's output.
        let mut p = held.pending(Ours::Out);
        p.buf.extend_from_slice(&job.line);
        p.buf.push(b'\n');
    }
    match (mode, turn) {
        (Mode::LineBuffer, Some(turn)) => turn.enter(job.order, &held, job.tag.as_deref()),
        (Mode::LineBuffer, None) => {
            held.pending(Ours::Out).streaming = true;
            held.pending(Ours::Err).streaming = true;
        }
        _ => {}
    }
    job.held = Some(Arc::clone(&held));
    let sink = |to| {
        Sink::writer(JobStream {
            to,
            seq: job.seq,
            stage: stage.cloned(),
            tag: job.tag.clone(),
            held: Arc::clone(&held),
            control: Arc::clone(control),
            pool: Arc::clone(pool),
        })
    };
    cmd.stdout(sink(Ours::Out)).stderr(sink(Ours::Err))
}

/// A finished job, as the printer needs it.
pub(crate) struct Done {
    pub job: Job,
    pub result: Result<spawn::Output, Error>,
}

/// Routes jobs' output and prints finished jobs.
pub(crate) struct Printer {
    mode: Mode,
    keep_order: bool,
    /// With `--keep-order --line-buffer`: whose turn it is to stream.
    turn: Option<Arc<Turn>>,
    /// With `--group` unordered: who prints now (a job streaming past the
    /// bound, or us), and the finished jobs that wait for it.
    stage: Option<Arc<Stage>>,
    deferred: Vec<Done>,
    control: Arc<Control>,
    /// Where printed jobs' buffers go back to.
    pool: Arc<BufPool>,
    /// With `--keep-order`: the next job number to print, and the jobs
    /// finished before their turn.
    next: u64,
    held: BTreeMap<u64, Done>,
}

impl Printer {
    pub(crate) fn new(
        mode: Mode,
        keep_order: bool,
        turn: Option<Arc<Turn>>,
        stage: Option<Arc<Stage>>,
        control: Arc<Control>,
        pool: Arc<BufPool>,
    ) -> Printer {
        Printer {
            mode,
            keep_order,
            turn,
            stage,
            deferred: Vec::new(),
            control,
            pool,
            next: 1,
            held: BTreeMap::new(),
        }
    }

    /// A job is finished: prints it now, or holds it until its turn with
    /// `--keep-order`.
    pub(crate) fn finished(&mut self, done: Done) {
        if let Some(stage) = self.stage.clone() {
            self.on_stage(&stage, done);
            return;
        }
        if !self.keep_order {
            self.print(&done);
            return;
        }
        self.held.insert(done.job.order, done);
        while let Some(d) = self.held.remove(&self.next) {
            self.print(&d);
            if let Some(turn) = &self.turn {
                turn.next(self.next, &self.control);
            }
            self.next += 1;
        }
    }

    /// Prints `done` unless another job streams now (then it waits for
    /// that one's end); the streaming job's end lets the waiting ones out.
    fn on_stage(&mut self, stage: &Stage, done: Done) {
        let seq = done.job.seq;
        if stage.owner() == Some(Owner::Job(seq)) {
            self.print(&done);
            stage.release(Owner::Job(seq));
        } else if stage.claim(Owner::Printer) {
            self.print(&done);
            stage.release(Owner::Printer);
        } else {
            self.deferred.push(done);
            return;
        }
        if !self.deferred.is_empty() && stage.claim(Owner::Printer) {
            for d in std::mem::take(&mut self.deferred) {
                self.print(&d);
            }
            stage.release(Owner::Printer);
        }
    }

    /// Prints the jobs still held (after a halt or a Ctrl-C left gaps).
    pub(crate) fn flush(&mut self) {
        for d in std::mem::take(&mut self.deferred) {
            self.print(&d);
        }
        for (_, d) in std::mem::take(&mut self.held) {
            self.print(&d);
        }
    }

    fn print(&self, d: &Done) {
        // `--halt now` prints nothing of the jobs it killed (GNU
        // parallel's way): they did not finish.
        let killed_by_halt = matches!(d.result, Err(Error::Cancelled { .. }))
            && matches!(self.control.why(), Some(Stop::Halt(_)));
        match self.mode {
            _ if killed_by_halt => {}
            Mode::Json => {
                let cmd = String::from_utf8_lossy(&d.job.line);
                let v = crate::json::many_json(d.job.seq, &cmd, &d.result);
                let mut line = v.to_string().into_bytes();
                line.push(b'\n');
                write(Ours::Out, &line, &self.control);
                return;
            }
            Mode::Ungroup | Mode::Results => {}
            Mode::Group | Mode::LineBuffer => {
                if let Some(held) = &d.job.held {
                    for to in [Ours::Out, Ours::Err] {
                        write_spilled(
                            to,
                            d.job.tag.as_deref(),
                            &mut held.pending(to),
                            &self.control,
                        );
                        let data = held.take(to);
                        // Untagged, the held bytes go out as they are (no
                        // second copy of a job's whole output).
                        match d.job.tag.as_deref() {
                            None => write(to, &data, &self.control),
                            Some(tag) => {
                                let mut buf = Vec::with_capacity(data.len() + 64);
                                tagged(Some(tag), &data, &mut buf);
                                write(to, &buf, &self.control);
                            }
                        }
                        self.pool.give(data);
                    }
                }
            }
        }
        // Jobs we stopped (Ctrl-C, --halt now, a closed stdout) are
        // counted in the summary, not named one by one.
        if self.control.ended_it(&d.result) {
            return;
        }
        let cmd = String::from_utf8_lossy(&d.job.line);
        match &d.result {
            Ok(o) if !o.status.success() => {
                screen().note(&format!(
                    "spawn many: job {} ({cmd}): {}",
                    d.job.seq, o.status
                ));
            }
            Err(e) => screen().note(&format!("spawn many: job {} ({cmd}): {e}", d.job.seq)),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_before_every_line() {
        let mut out = Vec::new();
        tagged(Some(b"a\t"), b"1\n2\n3", &mut out);
        assert_eq!(out, b"a\t1\na\t2\na\t3");
        out.clear();
        tagged(None, b"1\n2", &mut out);
        assert_eq!(out, b"1\n2");
    }
}
