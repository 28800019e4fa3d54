//! Sinks that run the caller's code (`Sink::writer`, `Sink::lines`) run it
//! off the driving thread, so that a `write` or a callback that blocks
//! stops its own stream only.
//!
//! Each such sink of a run is a [`Handoff`]: a bounded queue of chunks that
//! the engine fills as it reads, and that a worker of the engine's
//! [`Pool`] empties into the caller's writer or callback, in order, one
//! worker at a time per sink (so a sink's bytes and lines keep their
//! order), all that is queued in one call (a slow writer is called once
//! per batch, not once per read). When a sink holds [`HIGH`] bytes or more, the engine pauses its
//! stream (`Event::SinkFull`: the child then blocks on its own pipe, which
//! is the backpressure); the worker rings the pool's [`Doorbell`], which the
//! engine watches, when it is down to [`LOW`] bytes (`Event::SinkReady`),
//! and when the end it was asked for (the last partial line, the flush) is
//! done: a stream reports its end of file only then.
//!
//! The pool exists only in engines that opened such a sink; its threads
//! are made as work comes and no idle one can take it (at most
//! [`MAX_WORKERS`]), and wait for more until the engine is dropped. A
//! panic in the caller's code is caught on the worker and resumed on the
//! driving thread at the engine's next look at the sink, as when it ran
//! there. Memory per sink: at most `HIGH` plus one read.

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::os::fd::BorrowedFd;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::{Room, SinkError, SinkState, Want};
use crate::doorbell::Doorbell;

/// Bytes queued for a sink at or above which its stream pauses.
pub(crate) const HIGH: usize = 1 << 20;
/// Bytes queued at or below which a paused stream resumes.
pub(crate) const LOW: usize = HIGH / 2;
/// Most worker threads of one engine's pool: more sinks blocked at once
/// than this wait their turn (their streams pause, others go on).
pub(crate) const MAX_WORKERS: usize = 64;
/// Spent chunk buffers kept per sink for the next chunks.
const SPARE: usize = 4;

type Panic = Box<dyn Any + Send>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One sink's queue, shared by the engine and the worker serving it.
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    spare: Vec<Vec<u8>>,
    /// In the pool's run queue or being served.
    scheduled: bool,
    /// The engine asked for the end (the stream's EOF or close).
    end_asked: bool,
    /// The end was done: nothing queued, the writer flushed.
    ended: bool,
    /// The writer's first error, not reported yet.
    error: Option<io::Error>,
    /// The caller's code panicked: resumed on the driving thread.
    panic: Option<Panic>,
    /// What the engine waits for: the worker rings when it holds.
    want: Option<Want>,
}

impl Queue {
    fn holds(&self, want: Want) -> bool {
        self.panic.is_some()
            || match want {
                Want::Room => self.bytes <= LOW,
                Want::Done => self.ended,
            }
    }
}

/// `cell`'s queue, with a panic of the caller's code resumed here.
fn resuming(cell: &Cell) -> MutexGuard<'_, Queue> {
    let mut q = lock(&cell.queue);
    if let Some(p) = q.panic.take() {
        drop(q);
        std::panic::resume_unwind(p);
    }
    q
}

struct Cell {
    queue: Mutex<Queue>,
    /// Signalled when the end is done.
    ended: Condvar,
    /// The caller's writer or callback (a `Writer` or `Lines` state),
    /// used by the one worker serving the sink.
    inner: Mutex<SinkState>,
    /// The engine's index of the sink: what a ring names.
    key: usize,
}

/// A sink run off the driving thread: see the module docs.
pub(crate) struct Handoff {
    cell: Arc<Cell>,
    pool: Arc<Shared>,
    /// Bytes were handed over in this run.
    wrote: bool,
    /// The queue held `HIGH` bytes or more after the last write.
    full: bool,
    /// A writer error was reported: later bytes are dropped.
    failed: bool,
}

impl Handoff {
    /// `inner` (a `Writer` or `Lines` state) served by `pool`, its rings
    /// naming `key`.
    pub(crate) fn new(inner: SinkState, pool: &Pool, key: usize) -> Handoff {
        Handoff {
            cell: Arc::new(Cell {
                queue: Mutex::new(Queue {
                    chunks: VecDeque::new(),
                    bytes: 0,
                    spare: Vec::new(),
                    scheduled: false,
                    end_asked: false,
                    ended: false,
                    error: None,
                    panic: None,
                    want: None,
                }),
                ended: Condvar::new(),
                inner: Mutex::new(inner),
                key,
            }),
            pool: Arc::clone(&pool.shared),
            wrote: false,
            full: false,
            failed: false,
        }
    }

    /// Queues `data` for the worker (it is never refused: see
    /// [`is_full`](Self::is_full)); reports a writer error once.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), SinkError> {
        let mut q = resuming(&self.cell);
        if let Some(e) = q.error.take() {
            self.failed = true;
            return Err(SinkError::Io(e));
        }
        if self.failed || data.is_empty() {
            return Ok(());
        }
        self.wrote = true;
        // More bytes after an end (a stderr sink shared by pipeline
        // stages): the end is asked for again later.
        q.end_asked = false;
        q.ended = false;
        let mut chunk = q.spare.pop().unwrap_or_default();
        chunk.extend_from_slice(data);
        q.chunks.push_back(chunk);
        q.bytes += data.len();
        self.full = q.bytes >= HIGH;
        let schedule = !std::mem::replace(&mut q.scheduled, true);
        drop(q);
        if schedule {
            self.pool.schedule(&self.cell);
        }
        Ok(())
    }

    /// The queue held `HIGH` bytes or more after the last write.
    pub(crate) fn is_full(&self) -> bool {
        self.full
    }

    /// Whether what the engine waits for holds now; if not, the worker
    /// rings when it does. `Want::Done` asks for the end.
    pub(crate) fn wait(&mut self, want: Want) -> Room<'_> {
        let mut q = resuming(&self.cell);
        if want == Want::Done {
            Self::end_of(&self.cell, &self.pool, self.wrote, &mut q);
        }
        if q.holds(want) {
            self.full = q.bytes >= HIGH;
            q.want = None;
            return Room::Now;
        }
        q.want = Some(want);
        Room::Ring
    }

    /// Asks the worker for the end, if not asked yet. A sink that got no
    /// bytes in this run has nothing to end (its writer is not flushed).
    fn end_of(cell: &Arc<Cell>, pool: &Arc<Shared>, wrote: bool, q: &mut Queue) {
        if q.end_asked || q.ended {
            return;
        }
        q.end_asked = true;
        if !wrote && q.chunks.is_empty() {
            q.ended = true;
            return;
        }
        if !std::mem::replace(&mut q.scheduled, true) {
            pool.schedule(cell);
        }
    }

    /// Waits, blocking, until every byte queued was taken and the end done
    /// (for a stream closed without its end of file); returns the writer's
    /// error not yet reported.
    pub(crate) fn finish(&mut self) -> Result<(), SinkError> {
        let mut q = resuming(&self.cell);
        Self::end_of(&self.cell, &self.pool, self.wrote, &mut q);
        while !q.ended && q.panic.is_none() {
            q = self
                .cell
                .ended
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(q);
        let mut q = resuming(&self.cell);
        match q.error.take() {
            Some(e) if !self.failed => {
                self.failed = true;
                Err(SinkError::Io(e))
            }
            _ => Ok(()),
        }
    }
}

struct PoolQueue {
    runnable: VecDeque<Arc<Cell>>,
    idle: usize,
    threads: usize,
    /// Keys of sinks whose awaited condition holds, for the engine.
    rung: Vec<usize>,
    closed: bool,
}

struct Shared {
    queue: Mutex<PoolQueue>,
    work: Condvar,
    /// Rung while `rung` has keys.
    ring: Doorbell,
}

/// An engine's sink workers: see the module docs. Dropping it lets the
/// workers end once the sinks queued are served.
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// A pool without threads yet; `None` without a doorbell.
    pub(crate) fn new() -> Option<Pool> {
        let ring = Doorbell::new().ok()?;
        Some(Pool {
            shared: Arc::new(Shared {
                queue: Mutex::new(PoolQueue {
                    runnable: VecDeque::new(),
                    idle: 0,
                    threads: 0,
                    rung: Vec::new(),
                    closed: false,
                }),
                work: Condvar::new(),
                ring,
            }),
        })
    }

    /// The fd of the bell the engine watches: readable while rings wait.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.shared.ring.fd()
    }

    /// The keys of the sinks rung since the last call (into `out`).
    pub(crate) fn take_rung(&self, out: &mut Vec<usize>) {
        self.shared.ring.drain();
        out.append(&mut lock(&self.shared.queue).rung);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.work.notify_all();
    }
}

impl Shared {
    /// Puts `cell` in the run queue; a worker is made when no idle one is
    /// left for it.
    fn schedule(self: &Arc<Self>, cell: &Arc<Cell>) {
        let mut q = lock(&self.queue);
        q.runnable.push_back(Arc::clone(cell));
        if q.runnable.len() <= q.idle || q.threads >= MAX_WORKERS {
            drop(q);
            self.work.notify_one();
            return;
        }
        q.threads += 1;
        drop(q);
        let shared = Arc::clone(self);
        let made = std::thread::Builder::new()
            .name("spawn-sink".into())
            .spawn(move || shared.work_loop());
        if made.is_err() {
            let mut q = lock(&self.queue);
            q.threads -= 1;
            if q.threads == 0 {
                // No thread at all: served here, as before the pool.
                let cells: Vec<_> = q.runnable.drain(..).collect();
                drop(q);
                for c in cells {
                    self.serve(&c);
                }
            }
        }
    }

    fn work_loop(&self) {
        loop {
            let cell = {
                let mut q = lock(&self.queue);
                loop {
                    if let Some(c) = q.runnable.pop_front() {
                        break c;
                    }
                    if q.closed {
                        q.threads -= 1;
                        return;
                    }
                    q.idle += 1;
                    q = self.work.wait(q).unwrap_or_else(PoisonError::into_inner);
                    q.idle -= 1;
                }
            };
            self.serve(&cell);
        }
    }

    /// Empties `cell`'s queue into its writer or callback, then its end if
    /// asked; rings for what the engine waits for.
    fn serve(&self, cell: &Cell) {
        loop {
            let chunk = {
                let mut q = lock(&cell.queue);
                if let Some(mut c) = q.chunks.pop_front() {
                    // What waits behind it goes in the same call: a slow
                    // writer is called once per batch, not once per read.
                    while let Some(next) = q.chunks.pop_front() {
                        c.extend_from_slice(&next);
                        if q.spare.len() < SPARE {
                            let mut next = next;
                            next.clear();
                            q.spare.push(next);
                        }
                    }
                    q.bytes = 0;
                    Some(c)
                } else if q.end_asked && !q.ended {
                    None
                } else {
                    q.scheduled = false;
                    return;
                }
            };
            let res = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut inner = lock(&cell.inner);
                match &chunk {
                    Some(c) => inner.write(c),
                    None => inner.finish(),
                }
            }));
            let mut q = lock(&cell.queue);
            match res {
                Ok(Ok(())) | Ok(Err(SinkError::Overflow(_))) => {}
                Ok(Err(SinkError::Io(e))) => {
                    q.error.get_or_insert(e);
                }
                Err(p) => {
                    q.panic = Some(p);
                    q.chunks.clear();
                    q.bytes = 0;
                }
            }
            let panicked = q.panic.is_some();
            if let Some(mut c) = chunk {
                if q.spare.len() < SPARE && c.capacity() <= HIGH / 4 {
                    c.clear();
                    q.spare.push(c);
                }
            } else if q.chunks.is_empty() {
                q.ended = true;
            }
            if panicked {
                // Nothing more is served: the engine resumes the panic.
                q.ended = true;
                q.scheduled = false;
            }
            if q.ended {
                cell.ended.notify_all();
            }
            if q.want.is_some_and(|w| q.holds(w)) {
                q.want = None;
                drop(q);
                lock(&self.queue).rung.push(cell.key);
                self.ring.ring();
            }
            if panicked {
                return;
            }
        }
    }
}
