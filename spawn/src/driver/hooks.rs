//! What an entry point hooks into the loop besides children: the tracer
//! (`Command::run_traced`, `spawn trace`) that sees every event and every
//! output of the core, the signal forwarder, and the progress callback of a
//! `Group`.

use std::time::Duration;

use spawn_core::{Action, ChildId, Event, Output as CoreOutput, Stream, Timestamp};
use spawn_sys::poll::Interest;

use super::token::Token;
use super::{Engine, ProgressFn, Tracer};
use crate::Signal;
use crate::process::GroupSignalError;

impl<'t> Engine<'t> {
    pub(crate) fn set_tracer(&mut self, f: Box<Tracer<'t>>) {
        self.hooks.tracer = Some(f);
    }

    /// Passes the signals `f` receives on to the running children.
    pub(crate) fn set_forwarder(&mut self, f: &crate::Forwarder) {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        if self
            .ensure_epoll()
            .is_ok_and(|ep| ep.add(f.fd(), Token::Forwarder.encode(), interest).is_ok())
        {
            self.hooks.forwarder = Some(f.clone());
        }
    }

    pub(crate) fn set_progress(&mut self, f: Box<ProgressFn<'t>>) {
        self.hooks.progress = Some(f);
    }

    pub(super) fn report_progress(&mut self) {
        if let Some(p) = &mut self.hooks.progress {
            p(crate::group::Progress {
                done: self.sched.finished() + self.removed,
                running: self.sched.running(),
                queued: self.sched.queued() + self.not_added,
            });
        }
    }

    /// Hands `event` to the core (and the tracer).
    pub(super) fn feed(&mut self, event: Event, now: Timestamp) {
        if self.hooks.tracer.is_some() {
            let fd = self.event_fd(&event);
            self.trace(now, crate::trace::What::Event(&event), fd);
        }
        self.sched.handle(event, now);
    }

    /// The core's next output (shown to the tracer).
    pub(super) fn poll_core(&mut self, now: Timestamp) -> CoreOutput {
        let out = self.sched.poll(now);
        if self.hooks.tracer.is_some() {
            let fd = self.output_fd(&out);
            self.trace(now, crate::trace::What::Output(&out), fd);
        }
        out
    }

    fn trace(&mut self, now: Timestamp, what: crate::trace::What<'_>, fd: Option<i32>) {
        if let Some(t) = &mut self.hooks.tracer {
            t(&crate::trace::Trace {
                at: Duration::from_nanos(now.as_nanos()),
                what,
                fd,
            });
        }
    }

    /// The fd a traced step is about, if it is about one.
    pub(super) fn fd_of(&self, child: ChildId, stream: Option<Stream>) -> Option<i32> {
        use std::os::fd::AsRawFd;
        let slot = self.slots.get(child.0)?;
        match stream {
            Some(s) => slot.fds[s].as_ref().map(AsRawFd::as_raw_fd),
            None => slot
                .process
                .as_ref()
                .and_then(|p| p.pidfd())
                .map(|fd| fd.as_raw_fd()),
        }
    }

    pub(super) fn event_fd(&self, event: &Event) -> Option<i32> {
        match *event {
            Event::Readable { child, stream }
            | Event::Read { child, stream, .. }
            | Event::ReadWouldBlock { child, stream }
            | Event::Eof { child, stream } => self.fd_of(child, Some(stream)),
            Event::Writable { child }
            | Event::Wrote { child, .. }
            | Event::WriteWouldBlock { child }
            | Event::WriteBroken { child } => self.fd_of(child, Some(Stream::Stdin)),
            Event::Exited { child, .. } => self.fd_of(child, None),
            _ => None,
        }
    }

    pub(super) fn output_fd(&self, out: &CoreOutput) -> Option<i32> {
        match out {
            CoreOutput::Action(
                Action::Read { child, stream, .. }
                | Action::Close { child, stream, .. }
                | Action::Interest { child, stream, .. },
            ) => self.fd_of(*child, Some(*stream)),
            CoreOutput::Action(Action::Write { child, .. }) => {
                self.fd_of(*child, Some(Stream::Stdin))
            }
            _ => None,
        }
    }

    /// Passes the signals the forwarder received on to the running children.
    pub(super) fn forward_signals(&mut self) {
        let Some(f) = &self.hooks.forwarder else {
            return;
        };
        for (sig, from_terminal) in f.drain() {
            let sig = Signal::from_raw(sig);
            for slot in &mut self.slots {
                if slot.exit.is_some() || slot.finished.is_some() {
                    continue;
                }
                if slot.starting_elsewhere {
                    // Being started on the spawner thread: it gets the
                    // signal once it has started (`Engine::launched`).
                    slot.held_signals.push((sig, from_terminal));
                    continue;
                }
                if let Some(p) = &slot.process {
                    forward_to(p, sig, from_terminal);
                }
            }
        }
    }
}

/// Passes a received signal on to one child: to its own group (which the
/// terminal did not reach), or, when it is in ours and the signal did not
/// come from the terminal (which reached them already), to the child and
/// what a stop of it reaches (its descendants).
pub(super) fn forward_to(p: &crate::process::Process, sig: Signal, from_terminal: bool) {
    // A group that turns out to be ours is treated as ours.
    let own_group =
        p.pgid().is_some() && !matches!(p.signal_group(sig), Err(GroupSignalError::NotOwn));
    if !own_group && !from_terminal {
        p.signal_contained(sig);
        let _ = p.signal(sig);
    }
}
