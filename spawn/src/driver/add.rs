//! What the entry points add to the loop: commands from their wiring
//! (`run`, `Group`), pipeline stages with what they share (the final
//! stdout pipe, the stderr sink, the group), and children already running
//! (`Child`), each with its sinks opened together.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use spawn_core::{ChildId, ChildSpec, PerStream, Stream};

use super::Engine;
use super::slot::{Owner, Phase, Slot, Start};
use crate::launch::{StagePlumbing, StageRole};
use crate::process::Process;
use crate::wiring::{Held, Plan, Terms, Wiring, child_spec};
use crate::{Error, Sink};

/// A child already running, as a `Child` hands it to the engine: the engine
/// drives `fds` (the parent's pipe ends) into `sinks` with this `spec`.
pub(crate) struct Adopted<'a> {
    pub process: Arc<Process>,
    pub fds: PerStream<Option<OwnedFd>>,
    pub sinks: &'a PerStream<Option<Sink>>,
    /// Its wiring's terms (the timeout: what is left of it).
    pub terms: Terms,
    /// The child whose group it joined (a pipeline's later stages).
    pub member_of: Option<ChildId>,
    /// Its input, written to `fds.stdin` (when there is one).
    pub input: Option<Arc<Vec<u8>>>,
    pub name: &'a str,
    pub stop_signal: crate::Signal,
}

impl Engine<'_> {
    /// Opens the sinks of one run's stdout and stderr together (one file
    /// shared by both when both name it, like `>p 2>&1`); returns their
    /// indexes.
    pub(crate) fn open_sinks(
        &mut self,
        name: &str,
        sinks: &PerStream<Option<Sink>>,
    ) -> Result<PerStream<Option<usize>>, Error> {
        let opened = crate::sink::open_pair(sinks.stdout.as_ref(), sinks.stderr.as_ref())
            .map_err(|e| e.into_error(name))?;
        // A removed child's place is taken first: the table holds the
        // sinks of the children held, not of every one that went through.
        let stdout = opened.stdout.map(|st| self.sinks.insert(st));
        let stderr = opened.stderr.map(|st| self.sinks.insert(st));
        for ix in [stdout, stderr].into_iter().flatten() {
            self.offload_sink(ix);
        }
        Ok(PerStream {
            stdin: None,
            stdout,
            stderr,
        })
    }

    /// Queues a command; returns its slot (results come back in this order).
    pub(crate) fn add(&mut self, wiring: Wiring) -> Result<usize, Error> {
        self.add_stage(wiring, None, PerStream::default(), None)
    }

    /// Queues a command, as a pipeline stage when `stage` says so.
    /// `shared`: sinks opened already by the pipeline (its final stdout,
    /// the stderr every stage shares), used instead of the wiring's own;
    /// `member_of`: the slot whose group this one joins.
    pub(crate) fn add_stage(
        &mut self,
        wiring: Wiring,
        stage: Option<StageRole>,
        shared: PerStream<Option<usize>>,
        member_of: Option<usize>,
    ) -> Result<usize, Error> {
        let own = PerStream {
            stdin: None,
            stdout: wiring
                .sinks
                .stdout
                .clone()
                .filter(|_| shared.stdout.is_none()),
            stderr: wiring
                .sinks
                .stderr
                .clone()
                .filter(|_| shared.stderr.is_none()),
        };
        let mut sinks = self.open_sinks(&wiring.name, &own)?;
        sinks.stdout = sinks.stdout.or(shared.stdout);
        sinks.stderr = sinks.stderr.or(shared.stderr);
        let spec = child_spec(
            wiring.terms(),
            Held {
                pipes: PerStream {
                    // A piped stdin with no input is closed at once (EOF).
                    stdin: matches!(wiring.plans.stdin, Plan::Pipe),
                    stdout: sinks.stdout.is_some(),
                    stderr: sinks.stderr.is_some(),
                },
                input_len: input_len(wiring.input.as_ref()),
                member_of: member_of.map(ChildId),
            },
        );
        let fixed_cap = wiring.cmd.pipe_capacity.is_some();
        let (input, stop_signal) = (wiring.input.clone(), wiring.stop_signal);
        let cancel = wiring.cmd.settings.cancel.clone();
        let name = wiring.name.clone();
        let mut slot = Slot::new(name, Start::Launch(Box::new(wiring)), Owner::Engine);
        slot.fixed_cap = fixed_cap;
        slot.input = input;
        slot.sinks = sinks;
        slot.stage = stage;
        slot.keep_unreaped = spec.signal_group;
        slot.stop_signal = stop_signal;
        let ix = self.push(slot, spec);
        if let Some(token) = cancel {
            self.cancel_on(&token, super::CancelScope::Slot(ix));
        }
        Ok(ix)
    }

    /// Sets what a pipeline's stages share while they start (where its
    /// final stdout goes, the pipe its merged stderr shares with it).
    pub(crate) fn set_stage_plumbing(&mut self, plumbing: StagePlumbing) {
        self.starts.plumbing = plumbing;
    }

    /// Adds an already running child (a `Child`'s communicate or wait).
    pub(crate) fn adopt(&mut self, child: Adopted<'_>) -> Result<usize, Error> {
        let sink_ix = self.open_sinks(child.name, child.sinks)?;
        let fds = child.fds;
        let spec = child_spec(
            child.terms,
            Held {
                pipes: PerStream {
                    stdin: fds.stdin.is_some(),
                    stdout: sink_ix.stdout.is_some() && fds.stdout.is_some(),
                    stderr: sink_ix.stderr.is_some() && fds.stderr.is_some(),
                },
                input_len: match &fds.stdin {
                    Some(_) => input_len(child.input.as_ref()),
                    None => 0,
                },
                member_of: child.member_of,
            },
        );
        let mut slot = Slot::new(child.name.to_owned(), Start::Adopted, Owner::Child);
        slot.started = Some(Instant::now());
        slot.fds = fds;
        slot.sinks = sink_ix;
        slot.input = child.input;
        slot.keep_unreaped = spec.signal_group;
        slot.stop_signal = child.stop_signal;
        slot.process = Some(child.process);
        Ok(self.push(slot, spec))
    }

    /// Gives adopted slot `child`, which was adopted without its stdin,
    /// the stdin pipe `fd` with `input` to write (input given after the
    /// driving started: a `communicate` after `Child::lines`). The core
    /// decides (`Scheduler::add_stdin`): a child that has exited gets
    /// nothing, and `fd` is closed here.
    ///
    /// # Errors
    /// No epoll set could be made to watch the pipe in.
    pub(crate) fn give_stdin(
        &mut self,
        child: usize,
        fd: OwnedFd,
        input: Arc<Vec<u8>>,
    ) -> Result<(), Error> {
        if let Err(e) = self.ensure_epoll() {
            return Err(Error::io(
                &self.slots[child].name,
                "cannot create an epoll set",
                std::io::Error::from(e),
            ));
        }
        if !self.sched.add_stdin(ChildId(child), input.len() as u64) {
            return Ok(());
        }
        let slot = &mut self.slots[child];
        slot.fds.stdin = Some(fd);
        slot.input = Some(input);
        // A slot not started yet registers its pipes when it starts.
        if !matches!(slot.phase, Phase::Queued(_)) {
            self.register_pipe(child, Stream::Stdin);
        }
        Ok(())
    }

    pub(super) fn push(&mut self, slot: Slot, spec: ChildSpec) -> usize {
        let id = self.sched.add(spec);
        self.slots.put(id.0, slot);
        id.0
    }
}

/// The bytes of input to write.
fn input_len(input: Option<&Arc<Vec<u8>>>) -> u64 {
    input.map_or(0, |i| i.len() as u64)
}
