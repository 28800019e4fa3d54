//! How a child starts: [`Starts`], what the engine's starts share: the spawner thread (made
//! once output streams in, see `spawner.rs`), the bytes read since the last
//! start (whether it is streaming), the plumbing between pipeline stages
//! (with where a pipeline's final stdout goes), and who drives the engine to
//! its end (which decides when the reaper thread is made).

use std::os::fd::AsFd;
use std::sync::Arc;

use spawn_core::{ChildId, Event, Stream};
use spawn_sys::poll::Interest;

use super::exit_watch::ExitWatch;
use super::pipe_io;
use super::slot::{Phase, Start};
use super::spawner::{BULK_READ, Job, Spawner};
use super::token::Token;
use super::{Driving, Engine};
use crate::Error;
use crate::launch::PidfdPlan;
use crate::launch::{StagePlumbing, Started, launch_wiring};
use crate::wiring::Wiring;

/// The state the engine's starts share: see the module docs.
pub(crate) struct Starts {
    /// Makes the starts while children run, once needed.
    pub(super) spawner: Option<Spawner>,
    /// Bytes read from children's pipes since the last start.
    read_since_start: usize,
    pub(super) plumbing: StagePlumbing,
    /// Who drives this engine to its end.
    pub(super) driving: Driving,
}

impl Default for Starts {
    fn default() -> Self {
        Starts {
            spawner: None,
            read_since_start: 0,
            plumbing: StagePlumbing::default(),
            driving: Driving::Held,
        }
    }
}

impl Starts {
    /// `n` bytes were read from a child's pipe.
    pub(super) fn read(&mut self, n: usize) {
        self.read_since_start = self.read_since_start.saturating_add(n);
    }

    /// A start is being made: whether output streamed in since the last
    /// one (at least [`BULK_READ`] bytes), which sends a start with pipes
    /// to the spawner thread. Counting starts again from here.
    pub(super) fn streaming(&mut self) -> bool {
        std::mem::take(&mut self.read_since_start) >= BULK_READ
    }

    /// What an engine handed to the reaper keeps: the spawner and the
    /// plumbing; it is driven from there as a held engine.
    pub(super) fn take(&mut self) -> Starts {
        Starts {
            spawner: self.spawner.take(),
            read_since_start: 0,
            plumbing: std::mem::take(&mut self.plumbing),
            driving: Driving::Held,
        }
    }
}

/// Whether a start failed for want of what running children hold and give
/// back when they finish: fds (`EMFILE`, `ENFILE`) or processes (`EAGAIN`
/// from fork under `RLIMIT_NPROC`).
fn lacks_what_children_free(e: &Error) -> bool {
    match e {
        Error::TooManyOpenFiles { .. } => true,
        Error::Spawn { source, .. } => source.raw_os_error() == Some(libc::EAGAIN),
        _ => false,
    }
}

impl Engine<'_> {
    /// Starts slot `child` (launches its wiring, or registers what an
    /// adopted child holds) and tells the core.
    pub(super) fn start(&mut self, child: usize) {
        let id = ChildId(child);
        let start = match std::mem::replace(&mut self.slots[child].phase, Phase::Started) {
            Phase::Queued(start) => Some(start),
            _ => None,
        };
        // A retry after a deferred start: the error that deferred it is
        // not this start's.
        self.slots[child].error = None;
        // Pipes are watched in the epoll set, and so are the exits of
        // more than one child: made now if this child is the first to
        // need it (before it starts, so that it waits for the fd if there
        // is none).
        let holds = self
            .sched
            .spec(id)
            .is_some_and(|s| s.stdin || s.stdout || s.stderr);
        let second = !self.poller.is_made() && self.exits.has_aside(&self.slots);
        if (holds || second)
            && let Err(e) = self.ensure_epoll()
        {
            let e = Error::io(
                &self.slots[child].name,
                "cannot create an epoll set",
                std::io::Error::from(e),
            );
            self.start_failed(child, start, e);
            return;
        }
        // The engine's only child, with nothing to wait for but its exit
        // (no pipe, no deadline, no epoll set: no cancel token, forwarder
        // or outside driver) and nobody to signal it, is waited for in one
        // blocking `wait4`: its pidfd is opened only if that changes.
        let lone = !self.poller.is_made()
            && self.slots.len() == 1
            && !self.stops.watches_cancels()
            && !self.slots[child].keep_unreaped
            && self
                .sched
                .spec(id)
                .is_some_and(|s| s.timeout.is_none() && !s.signal_group);
        let pidfd = ExitWatch::pidfd_plan(lone);
        match start {
            Some(Start::Launch(wiring)) => {
                let stage = self.slots[child].stage;
                // While output streams in from running children (at least
                // `BULK_READ` bytes read since the last start), a child with
                // pipes starts on the spawner thread (see `spawner.rs`), so
                // that the pipes are read during its spawn call. Else it
                // starts in place: a child without pipes, a lone child, a
                // stage (in its leader's turn), and any start while the
                // pipes are quiet (`true`, `echo`: nothing to read
                // meanwhile, and the hand-over would only add two wake-ups).
                let streaming = self.starts.streaming();
                if holds
                    && streaming
                    && stage.is_none()
                    && self.sched.running() > 1
                    && self.spawner().is_some()
                {
                    self.slots[child].phase = Phase::Starting;
                    if let Some(sp) = self.starts.spawner.as_mut() {
                        sp.submit(Job {
                            slot: child,
                            wiring,
                            pidfd,
                            driving: self.starts.driving,
                        });
                    }
                    return;
                }
                let res = launch_wiring(
                    &wiring,
                    stage,
                    &mut self.starts.plumbing,
                    pidfd,
                    self.starts.driving,
                );
                self.launched(child, wiring, pidfd, res);
            }
            Some(Start::Adopted) | None => self.now_started(child, PidfdPlan::Now),
        }
    }

    /// The second half of a start, in place or on the spawner thread: the
    /// slot takes what the launch gave, or the start failed.
    pub(super) fn launched(
        &mut self,
        child: usize,
        wiring: Box<Wiring>,
        pidfd: PidfdPlan,
        res: Result<Started, Error>,
    ) {
        self.slots[child].phase = Phase::Started;
        let held = std::mem::take(&mut self.slots[child].held_signals);
        match res {
            Ok(s) => {
                // The command (and any fd the caller handed in) is
                // dropped here: the parent keeps no copy it was not
                // asked to keep.
                drop(wiring);
                let slot = &mut self.slots[child];
                slot.process = Some(Arc::new(s.process));
                slot.fds = s.fds;
                slot.spawn_time = s.spawn_time;
                slot.started = Some(s.started);
                // Pipes the core does not manage (a merged stderr has none).
                for stream in [Stream::Stdout, Stream::Stderr] {
                    if slot.sinks[stream].is_none() {
                        slot.fds[stream] = None;
                    }
                }
                self.now_started(child, pidfd);
                if let Some(p) = &self.slots[child].process {
                    for (sig, from_terminal) in held {
                        super::hooks::forward_to(p, sig, from_terminal);
                    }
                }
            }
            Err(e) => self.start_failed(child, Some(Start::Launch(wiring)), e),
        }
    }

    /// A slot holds its running child: its pipes and exit are watched and
    /// the core is told.
    fn now_started(&mut self, child: usize, pidfd: PidfdPlan) {
        self.register(child);
        let now = self.now();
        self.feed(
            Event::Started {
                child: ChildId(child),
            },
            now,
        );
        self.exits
            .watch(child, &mut self.slots[child], &self.poller, pidfd);
        self.tell_exits(now);
    }

    /// The engine's spawner, made now (its doorbell in the epoll set) if
    /// there is none; `None` when none can be had.
    fn spawner(&mut self) -> Option<&mut Spawner> {
        if self.starts.spawner.is_none() {
            let sp = Spawner::new()?;
            let interest = Interest {
                readable: true,
                writable: false,
                edge: false,
            };
            let set = self.ensure_epoll().ok()?;
            if !set.add(sp.fd(), Token::Spawned, interest) {
                return None;
            }
            self.starts.spawner = Some(sp);
        }
        self.starts.spawner.as_mut()
    }

    /// The spawner's doorbell was readable: the starts it made are finished
    /// here, in the order made.
    pub(super) fn spawned_ready(&mut self) {
        let Some(sp) = self.starts.spawner.as_mut() else {
            return;
        };
        let mut made = sp.take_done();
        for done in made.drain(..) {
            self.launched(done.slot, done.wiring, done.pidfd, done.result);
        }
        if let Some(sp) = self.starts.spawner.as_mut() {
            sp.give_back(made);
        }
    }

    /// A start that failed: deferred (the wiring kept for the retry) when
    /// what it lacked is what running children give back as they finish
    /// (fds, processes) and it is no pipeline stage; else failed. The core
    /// decides whether a deferral can wait (see `Event::StartDeferred`);
    /// the error stays for when it cannot.
    fn start_failed(&mut self, child: usize, start: Option<Start>, e: Error) {
        let id = ChildId(child);
        let now = self.now();
        let slot = &mut self.slots[child];
        let deferrable = slot.stage.is_none()
            && matches!(start, Some(Start::Launch(_)))
            && lacks_what_children_free(&e);
        slot.error = Some(e);
        if deferrable {
            if let Some(start) = start {
                slot.phase = Phase::Queued(start);
            }
            self.feed(Event::StartDeferred { child: id }, now);
        } else {
            drop(start);
            self.feed(Event::SpawnFailed { child: id }, now);
        }
    }

    /// Watches the pipes of a started slot.
    pub(super) fn register(&mut self, child: usize) {
        for stream in [Stream::Stdin, Stream::Stdout, Stream::Stderr] {
            self.register_pipe(child, stream);
        }
    }

    /// Watches pipe `stream` of a started slot, if it holds one.
    pub(super) fn register_pipe(&mut self, child: usize, stream: Stream) {
        if !self.poller.is_made() {
            return;
        }
        let slot = &mut self.slots[child];
        let input = slot.input.as_ref().map_or(0, |v| v.len());
        let Some(fd) = slot.fds[stream].as_ref() else {
            return;
        };
        pipe_io::size_pipe(fd, stream, input, slot.fixed_cap, &mut slot.caps[stream]);
        // Our end of a pipe made for this start: no other flag to keep.
        let _ = spawn_sys::pipe::set_new_pipe_nonblocking(fd);
        let interest = Interest {
            readable: stream != Stream::Stdin,
            writable: stream == Stream::Stdin,
            edge: true,
        };
        let token = Token::Pipe {
            slot: child,
            stream,
        };
        let _ = self.poller.add(fd.as_fd(), token, interest);
    }
}

#[cfg(test)]
mod tests {
    use super::{BULK_READ, Starts};

    /// A start after `BULK_READ` bytes streams; the next one, with nothing
    /// read since, does not.
    #[test]
    fn streaming_is_counted_from_the_last_start() {
        let mut s = Starts::default();
        s.read(BULK_READ - 1);
        assert!(!s.streaming());
        s.read(BULK_READ);
        assert!(s.streaming());
        assert!(!s.streaming(), "counted again from the last start");
    }
}
