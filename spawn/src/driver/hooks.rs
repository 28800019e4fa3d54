//! [`Hooks`]: what an entry point hooks into the loop besides children,
//! handed in as data: the tracer (`Command::run_traced`, `spawn trace`)
//! that sees every event and every output of the core, the signal
//! forwarder, and the progress callback of a `Group`. The vocabulary they
//! are called with ([`Trace`], [`What`], [`Progress`]) is defined here, so
//! that the loop names nothing of its callers.

use std::time::Duration;

use spawn_core::{Event, Output as CoreOutput, Timestamp};

use super::outbox::Outbox;
use super::slot::Phase;
use super::slots::Slots;
use crate::Signal;
use crate::forward::OnStop;
use crate::process::{GroupSignalError, Process};

/// One step of a traced run.
#[derive(Debug)]
pub struct Trace<'a> {
    /// Time since the run started.
    pub at: Duration,
    /// What happened.
    pub what: What<'a>,
    /// The parent's fd the step is about (a pipe end, or the child's pidfd
    /// for an exit), while it is open.
    pub fd: Option<i32>,
}

/// What a [`Trace`] step is.
#[derive(Debug)]
#[non_exhaustive]
pub enum What<'a> {
    /// An event handed to the core (readiness, bytes read or written, EOF, exit, …).
    Event(&'a Event),
    /// What the core answered: an action for the driver, or why and until when it waits.
    Output(&'a CoreOutput),
}

/// Where a [`Group`](crate::Group) is, for progress displays: counts of
/// children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Finished (successfully or not).
    pub done: usize,
    /// Started and not finished.
    pub running: usize,
    /// Waiting for a running slot.
    pub queued: usize,
}

/// Sees every step of a traced run.
pub(crate) type Tracer<'t> = dyn FnMut(&Trace<'_>) + Send + 't;
/// Told the counts when a child starts or finishes.
pub(crate) type ProgressFn<'t> = dyn FnMut(Progress) + Send + 't;

/// What an entry point adds to the loop besides children.
#[derive(Default)]
pub(crate) struct Hooks<'t> {
    /// Sees every event handed to the core and every output it returns.
    tracer: Option<Box<Tracer<'t>>>,
    /// Signals to pass on to the running children.
    pub(super) forwarder: Option<crate::Forwarder>,
    /// Told when a child starts or finishes.
    progress: Option<Box<ProgressFn<'t>>>,
    /// Commands known to come that are not added yet, counted as queued.
    not_added: usize,
}

impl<'t> Hooks<'t> {
    pub(super) fn set_tracer(&mut self, f: Box<Tracer<'t>>) {
        self.tracer = Some(f);
    }

    pub(super) fn set_progress(&mut self, f: Box<ProgressFn<'t>>) {
        self.progress = Some(f);
    }

    pub(super) fn set_not_added(&mut self, n: usize) {
        self.not_added = n;
    }

    /// Whether a tracer looks (the fds of a step are worked out only then).
    pub(super) fn tracing(&self) -> bool {
        self.tracer.is_some()
    }

    /// Shows the tracer an event handed to the core.
    pub(super) fn event(&mut self, now: Timestamp, event: &Event, fd: Option<i32>) {
        self.trace(now, What::Event(event), fd);
    }

    /// Shows the tracer an output of the core.
    pub(super) fn output(&mut self, now: Timestamp, out: &CoreOutput, fd: Option<i32>) {
        self.trace(now, What::Output(out), fd);
    }

    fn trace(&mut self, now: Timestamp, what: What<'_>, fd: Option<i32>) {
        if let Some(t) = &mut self.tracer {
            t(&Trace {
                at: Duration::from_nanos(now.as_nanos()),
                what,
                fd,
            });
        }
    }

    /// Tells the progress callback the counts (`queued`: in the core; the
    /// commands not added yet are added to it).
    /// Whether a progress callback was handed in.
    pub(super) fn wants_progress(&self) -> bool {
        self.progress.is_some()
    }

    pub(super) fn progress(&mut self, done: usize, running: usize, queued: usize) {
        if let Some(p) = &mut self.progress {
            p(Progress {
                done,
                running,
                queued: queued + self.not_added,
            });
        }
    }

    /// The hooks an engine handed to the background reaper keeps: the
    /// forwarder (the tracer and the callback borrow from the caller).
    pub(super) fn take_owned(&mut self) -> Hooks<'static> {
        Hooks {
            forwarder: self.forwarder.take(),
            ..Hooks::default()
        }
    }
}

impl Hooks<'_> {
    /// Passes the signals the forwarder received on to the running
    /// children (held for those being started on the spawner thread). When
    /// this process stopped itself for job control (its children with it)
    /// and was continued, the core is told `Event::Continued` for each
    /// child: their idle clocks start again.
    pub(super) fn forward_signals(&self, slots: &mut Slots, out: &mut Outbox) {
        let Some(f) = &self.forwarder else {
            return;
        };
        for (sig, from_terminal) in f.drain() {
            let sig = Signal::from_raw(sig);
            let on_stop = if sig == Signal::TSTP {
                f.on_stop()
            } else {
                OnStop::Forward
            };
            if on_stop == OnStop::Drop {
                continue;
            }
            for slot in slots.iter_mut() {
                if slot.exit.is_some() || slot.is_finished() {
                    continue;
                }
                if matches!(slot.phase, Phase::Starting) {
                    // Being started on the spawner thread: it gets the
                    // signal once it has started (`Engine::launched`).
                    slot.held_signals.push((sig, from_terminal));
                    continue;
                }
                if let Some(p) = &slot.process {
                    match p.pty_master() {
                        // A pty child's window follows this process's
                        // terminal: the resize makes the kernel send it
                        // SIGWINCH.
                        Some(master) if sig == Signal::WINCH => {
                            if let Some((rows, cols)) = spawn_sys::pty::terminal_size() {
                                let _ = spawn_sys::pty::resize(&*master, rows, cols);
                            }
                        }
                        _ => forward_to(p, sig, from_terminal),
                    }
                }
            }
            if on_stop == OnStop::ForwardThenStopSelf {
                // After the children: this process stops here, and goes on
                // when continued (its CONT is then forwarded to them).
                let _ = spawn_sys::signal::stop_self(Signal::TSTP.as_raw());
                for (id, _) in slots.enumerate() {
                    out.event(Event::Continued {
                        child: spawn_core::ChildId(id),
                    });
                }
            }
        }
    }
}

/// Passes a received signal on to one child: to its own group (which the
/// terminal did not reach), or, when it is in ours and the signal did not
/// come from the terminal (which reached them already), to the child and
/// what a stop of it reaches (its descendants).
pub(super) fn forward_to(p: &Process, sig: Signal, from_terminal: bool) {
    // A group that turns out to be ours is treated as ours.
    let own_group =
        p.pgid().is_some() && !matches!(p.signal_group(sig), Err(GroupSignalError::NotOwn));
    if !own_group && !from_terminal {
        p.signal_contained(sig);
        // Once: not again when what contains the child reached it.
        if !p.containment_reaches_child() {
            let _ = p.signal(sig);
        }
    }
}
