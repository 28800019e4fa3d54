//! `--journal FILE`: one JSON line per finished job, keyed by the job
//! itself ([`Key`]: its command template and input record), so that a
//! later run with `--resume`, `--resume-failed` or `--retry-failed` knows
//! which jobs are done however its input was reordered or extended:
//!
//! ```text
//! {"key":"958b…1cb4","ok":true,"exit":0,"signal":0,"seq":7,"tries":1,"start":1764626400.123,"runtime":0.004,"cmd":"gzip a.log"}
//! ```
//!
//! `ok` is the outcome a resume goes by (exit 0, no signal); the rest is
//! for people. A job our stop ended (a signal, `--halt now`) is not
//! written: it did not finish, and a resumed run runs it again.
//!
//! **Batches and the bound on a crash.** Lines are gathered and written
//! in one `write` per batch: when the next line would take a batch past
//! [`BATCH`] bytes (the size Linux writes at once into a pipe,
//! `PIPE_BUF`), or [`LINGER`] after the first line of a batch (a thread of
//! the journal waits for that), and at the end of the run, a stop by
//! signal included. So a run killed at any point (SIGKILL, a node lost)
//! loses at most the lines of the jobs that ended in the last
//! [`LINGER`] (100 ms), and never more than [`BATCH`] bytes of them: those
//! jobs run again when the run is resumed. Nothing is lost that is
//! written: a line is whole or absent (a torn last line, from a machine
//! that lost power mid-write, is skipped on reading, and named; the next
//! batch written after it starts on a line of its own, so the torn line
//! does not take a whole one with it).
//!
//! **Two runs on one file.** The file is opened with `O_APPEND` and each
//! batch is one `write(2)` of whole lines, at most [`BATCH`] bytes (a
//! single line longer than that is written alone), under an exclusive
//! `flock(2)` ([`Locked`]); a resume reads the file under a shared one. On
//! a local file system the kernel appends each write whole anyway; on NFS,
//! where `O_APPEND` is not atomic between machines, Linux makes `flock` a
//! lock on the server (a POSIX byte-range lock of the whole file), and
//! taking it makes the client look at the file's size again, so the batch
//! goes at the true end and reaches the server before the lock is given
//! back: two runs on two machines appending to one journal never mix their
//! lines. Where no lock can be had (a file system without locks), the
//! batch is written without one, and the run says so once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::key::Key;

/// The most bytes of lines a batch holds before it is written.
pub(crate) const BATCH: usize = 4096;

/// The longest a finished job's line waits to be written.
pub(crate) const LINGER: Duration = Duration::from_millis(100);

/// What the journal says of a job, from its last line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It succeeded (exit 0).
    Succeeded,
    /// It failed (another exit, a signal, could not start, its timeout).
    Failed,
}

/// One finished job, as the journal records it.
pub(crate) struct Entry<'a> {
    pub key: Key,
    pub outcome: Outcome,
    pub exit: i32,
    pub signal: i32,
    pub seq: u64,
    pub tries: u32,
    pub start: SystemTime,
    pub runtime: Duration,
    pub cmd: &'a [u8],
}

impl Entry<'_> {
    /// Its JSON line (made before the job's output is printed, written
    /// after, with [`Journal::record`]).
    pub(crate) fn line(&self) -> Vec<u8> {
        let start = self
            .start
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let cmd = serde_json::Value::from(String::from_utf8_lossy(self.cmd));
        format!(
            "{{\"key\":\"{}\",\"ok\":{},\"exit\":{},\"signal\":{},\"seq\":{},\"tries\":{},\
             \"start\":{start:.3},\"runtime\":{:.3},\"cmd\":{cmd}}}\n",
            self.key,
            self.outcome == Outcome::Succeeded,
            self.exit,
            self.signal,
            self.seq,
            self.tries,
            self.runtime.as_secs_f64(),
        )
        .into_bytes()
    }
}

#[derive(Default)]
struct Pending {
    /// Lines not written yet (whole lines).
    buf: Vec<u8>,
    /// When the first of them was added.
    since: Option<Instant>,
    /// The run has ended: the flusher writes what is left and ends.
    closed: bool,
    /// The first write that failed.
    error: Option<io::Error>,
}

struct Shared {
    file: File,
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// An advisory `flock(2)` of a journal, held until dropped; `None` inside
/// when the file system gives none.
struct Locked<'a>(Option<&'a File>);

impl<'a> Locked<'a> {
    /// Waits for the lock on `file` (shared to read, exclusive to write);
    /// the error when none can be had.
    fn take(file: &'a File, how: rustix::fs::FlockOperation) -> (Locked<'a>, Option<io::Error>) {
        loop {
            match rustix::fs::flock(file, how) {
                Ok(()) => return (Locked(Some(file)), None),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return (Locked(None), Some(e.into())),
            }
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Some(f) = self.0 {
            let _ = rustix::fs::flock(f, rustix::fs::FlockOperation::Unlock);
        }
    }
}

/// Says once that the journal is written or read without a lock.
fn unlocked(e: &io::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        crate::screen::screen().note(&format!(
            "spawn many: --journal: cannot lock it ({e}): two runs appending to it at once \
             may mix their lines"
        ));
    });
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the batch in `p` in one write (the signals are blocked in
    /// every thread: a write to a file is not cut short).
    fn write(&self, p: &mut Pending) {
        if p.buf.is_empty() {
            return;
        }
        if let Err(e) = self.append(&mut p.buf)
            && p.error.is_none()
        {
            p.error = Some(e);
        }
        p.buf.clear();
        p.since = None;
    }

    /// Appends `batch` under the exclusive lock, on a line of its own: a
    /// file that ends in a torn line (its writer died mid-write) gets a
    /// `\n` first, in the same write.
    fn append(&self, batch: &mut Vec<u8>) -> io::Result<()> {
        let (_lock, err) = Locked::take(&self.file, rustix::fs::FlockOperation::LockExclusive);
        if let Some(e) = err {
            unlocked(&e);
        }
        let len = self.file.metadata()?.len();
        let mut last = [b'\n'];
        if len > 0 {
            self.file.read_exact_at(&mut last, len - 1)?;
        }
        if last[0] != b'\n' {
            batch.insert(0, b'\n');
        }
        (&self.file).write_all(batch)
    }
}

/// An open journal (see the module docs).
pub(crate) struct Journal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Journal {
    /// Opens `path` for appending (creating it), with the thread that
    /// writes a batch [`LINGER`] after its first line.
    ///
    /// # Errors
    /// The file cannot be opened, or the thread not started.
    pub(crate) fn open(path: &Path) -> io::Result<Journal> {
        // Read too: its last byte says whether it ends in a torn line.
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let shared = Arc::new(Shared {
            file,
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let s = Arc::clone(&shared);
        let flusher = std::thread::Builder::new()
            .name("spawn-many-journal".into())
            .spawn(move || flush_when_due(&s))?;
        Ok(Journal {
            shared,
            flusher: Some(flusher),
        })
    }

    /// Adds the [`line`](Entry::line) of a finished job (written within
    /// [`LINGER`]).
    pub(crate) fn record(&self, line: &[u8]) {
        let mut p = self.shared.lock();
        if p.buf.len() + line.len() > BATCH {
            self.shared.write(&mut p);
        }
        p.buf.extend_from_slice(line);
        if p.since.is_none() {
            p.since = Some(Instant::now());
            drop(p);
            self.shared.wake.notify_one();
        }
    }

    /// Writes what is left and stops the thread.
    ///
    /// # Errors
    /// A write of the journal failed (the first such error).
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.close()
    }

    fn close(&mut self) -> io::Result<()> {
        {
            let mut p = self.shared.lock();
            p.closed = true;
            self.shared.write(&mut p);
        }
        self.shared.wake.notify_one();
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
        match self.shared.lock().error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The journal's thread: writes a batch once its first line is
/// [`LINGER`] old, until the journal is closed.
fn flush_when_due(s: &Shared) {
    let mut p = s.lock();
    while !p.closed {
        match p.since {
            None => p = s.wake.wait(p).unwrap_or_else(PoisonError::into_inner),
            Some(since) => {
                let age = since.elapsed();
                if age >= LINGER {
                    s.write(&mut p);
                } else {
                    p = s
                        .wake
                        .wait_timeout(p, LINGER - age)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

/// What a journal file says: each key's last outcome, and how many lines
/// could not be read (a torn last line).
#[derive(Default)]
pub(crate) struct Recorded {
    pub outcomes: HashMap<Key, Outcome>,
    pub unreadable: u64,
}

/// Reads the journal at `path` (none there: nothing recorded), under a
/// shared lock: no batch of another run is half there.
///
/// # Errors
/// The file exists and cannot be read.
pub(crate) fn read(path: &Path) -> io::Result<Recorded> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Recorded::default()),
        Err(e) => return Err(e),
    };
    let (_lock, err) = Locked::take(&file, rustix::fs::FlockOperation::LockShared);
    if let Some(e) = err {
        unlocked(&e);
    }
    let mut r = Recorded::default();
    // Line by line: what is held is the keys, not the file.
    for line in io::BufReader::with_capacity(1 << 16, &file).split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match parse_line(&line) {
            Some((key, outcome)) => {
                r.outcomes.insert(key, outcome);
            }
            None => r.unreadable += 1,
        }
    }
    Ok(r)
}

/// The key and outcome of one line: read directly from the start of a
/// whole line as [`Entry::line`] writes it (`{"key":"…","ok":true,…}`: a
/// resume reads 100,000 of them in milliseconds), else parsed as JSON.
fn parse_line(line: &[u8]) -> Option<(Key, Outcome)> {
    const HEAD: &[u8] = b"{\"key\":\"";
    if let Some(rest) = line.strip_prefix(HEAD)
        && line.ends_with(b"}")
        && let Some((hex, after)) = rest.split_at_checked(32)
        && let Some(key) = std::str::from_utf8(hex).ok().and_then(Key::parse)
    {
        if after.starts_with(b"\",\"ok\":true,") {
            return Some((key, Outcome::Succeeded));
        }
        if after.starts_with(b"\",\"ok\":false,") {
            return Some((key, Outcome::Failed));
        }
    }
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let key = Key::parse(v.get("key")?.as_str()?)?;
    let outcome = if v.get("ok")?.as_bool()? {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    };
    Some((key, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(k: u128, outcome: Outcome, cmd: &[u8]) -> Vec<u8> {
        Entry {
            key: Key(k),
            outcome,
            exit: i32::from(outcome == Outcome::Failed),
            signal: 0,
            seq: 1,
            tries: 1,
            start: UNIX_EPOCH,
            runtime: Duration::ZERO,
            cmd,
        }
        .line()
    }

    #[test]
    fn lines_are_read_back_the_last_one_of_a_key_winning() {
        let dir = std::env::temp_dir().join(format!("spawn-journal-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let j = Journal::open(&dir).expect("open");
        j.record(&line_of(1, Outcome::Failed, b"echo \"a\"\tb"));
        j.record(&line_of(2, Outcome::Succeeded, b"x"));
        j.record(&line_of(1, Outcome::Succeeded, b"y"));
        j.finish().expect("written");
        // A line written by another tool (keys in another order) is read
        // as JSON; a torn last line (a machine that lost power) is skipped,
        // even when its start is whole.
        let other = format!("{{\"ok\":false,\"key\":\"{}\"}}\n", Key(3));
        let torn = format!("{{\"key\":\"{}\",\"ok\":true,\"exit\":0", Key(4));
        OpenOptions::new()
            .append(true)
            .open(&dir)
            .and_then(|mut f| f.write_all(format!("{other}{torn}").as_bytes()))
            .expect("append");
        let r = read(&dir).expect("read");
        let _ = std::fs::remove_file(&dir);
        assert_eq!(r.outcomes.len(), 3);
        assert_eq!(r.outcomes[&Key(1)], Outcome::Succeeded);
        assert_eq!(r.outcomes[&Key(2)], Outcome::Succeeded);
        assert_eq!(r.outcomes[&Key(3)], Outcome::Failed);
        assert_eq!(r.unreadable, 1);
    }

    /// A run that died mid-write left a torn last line: the next run's
    /// first line starts on a line of its own, not glued to it (before, it
    /// was read as one unreadable line with the torn one, and its job ran
    /// again on resume).
    #[test]
    fn a_torn_last_line_does_not_take_the_next_runs_first_line() {
        let path = std::env::temp_dir().join(format!("spawn-journal-t-{}", std::process::id()));
        let torn = format!("{{\"key\":\"{}\",\"ok\":tr", Key(4));
        std::fs::write(&path, torn).expect("torn line");
        let j = Journal::open(&path).expect("open");
        j.record(&line_of(5, Outcome::Succeeded, b"x"));
        j.finish().expect("written");
        let r = read(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        assert_eq!(r.outcomes.get(&Key(5)), Some(&Outcome::Succeeded));
        assert_eq!(r.unreadable, 1);
    }

    /// The journal's own cost per job, as a `true {}` run pays it: the
    /// key, the line, the batch and its share of the writes. BENCHMARKS.md
    /// has the figure: `cargo test --release -p spawn-cli journal_cost --
    /// --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check: run it with --release --ignored --nocapture"]
    fn journal_cost_per_job() {
        const JOBS: u64 = 100_000;
        let path = std::env::temp_dir().join(format!("spawn-journal-cost-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let id = crate::many::key::template_identity(&["true".into()], None);
        let start = Instant::now();
        let j = Journal::open(&path).expect("open");
        for n in 0..JOBS {
            let input = vec![n.to_string().into_bytes()];
            let key = Key::of(&id, &input);
            let cmd = format!("true {n}");
            let line = Entry {
                key,
                outcome: Outcome::Succeeded,
                exit: 0,
                signal: 0,
                seq: n + 1,
                tries: 1,
                start: SystemTime::now(),
                runtime: Duration::from_micros(700),
                cmd: cmd.as_bytes(),
            }
            .line();
            j.record(&line);
        }
        j.finish().expect("written");
        let took = start.elapsed();
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        let _ = std::fs::remove_file(&path);
        println!(
            "{JOBS} jobs journaled in {took:?}: {:.2} us per job, {bytes} bytes",
            took.as_secs_f64() * 1e6 / JOBS as f64
        );
    }

    #[test]
    fn a_full_batch_is_written_at_once_and_a_line_never_split() {
        let dir = std::env::temp_dir().join(format!("spawn-journal-b-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let j = Journal::open(&dir).expect("open");
        let cmd = vec![b'c'; 1000];
        let mut n = 0;
        // Lines until the first batch is full; the next one writes it.
        while std::fs::metadata(&dir).map_or(0, |m| m.len()) == 0 {
            j.record(&line_of(n, Outcome::Succeeded, &cmd));
            n += 1;
            assert!(n < 10, "a batch over {BATCH} bytes was not written");
        }
        let len = std::fs::metadata(&dir).map_or(0, |m| m.len());
        assert!(len <= BATCH as u64, "{len}");
        assert_eq!(std::fs::read(&dir).expect("read").last(), Some(&b'\n'));
        drop(j);
        assert_eq!(read(&dir).expect("read").outcomes.len(), n as usize);
        let _ = std::fs::remove_file(&dir);
    }
}
