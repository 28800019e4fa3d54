//! What the entry points add to the loop: commands from their wiring
//! (`run`, `Group`), pipeline stages with what they share (the final
//! stdout pipe, the stderr sink, the group), and children already running
//! (`Child`): the slot each becomes, and what the core is told of it
//! (the engine opens their sinks together and queues them).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use spawn_core::{ChildId, ChildSpec, PerStream};

use super::slot::{Owner, Slot, Start};
use crate::launch::StageRole;
use crate::process::Process;
use crate::wiring::{Held, Plan, Terms, Wiring, child_spec};
use crate::{CancelToken, Sink};

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
}

/// The sinks a stage opens of its own: its wiring's, less those the
/// pipeline `shared` (its final stdout, the stderr every stage shares).
pub(super) fn own_sinks(
    wiring: &Wiring,
    shared: &PerStream<Option<usize>>,
) -> PerStream<Option<Sink>> {
    PerStream {
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
    }
}

/// A queued slot for `wiring` (a pipeline stage when `stage` says so),
/// with the `sinks` opened for it; `member_of`: the slot whose group it
/// joins. Returns the slot, what the core is told of it, and the cancel
/// token it watches.
pub(super) fn queued(
    wiring: Wiring,
    stage: Option<StageRole>,
    sinks: PerStream<Option<usize>>,
    member_of: Option<usize>,
) -> (Slot, ChildSpec, Option<CancelToken>) {
    let spec = child_spec(
        wiring.terms(),
        Held {
            pipes: PerStream {
                // A piped stdin with no input is closed at once (EOF).
                stdin: matches!(wiring.plans.stdin, Plan::Pipe | Plan::Pty),
                stdout: sinks.stdout.is_some(),
                stderr: sinks.stderr.is_some(),
            },
            input_len: input_len(wiring.input.as_ref()),
            member_of: member_of.map(ChildId),
        },
    );
    let fixed_cap = wiring.cmd.pipe_capacity.is_some();
    let (input, stop) = (wiring.input.clone(), wiring.stop);
    let cancel = wiring.cmd.settings.cancel.clone();
    let name = wiring.name.clone();
    let mut slot = Slot::new(name, Start::Launch(Box::new(wiring)), Owner::Engine);
    slot.fixed_cap = fixed_cap;
    slot.input = input;
    slot.sinks = sinks;
    slot.stage = stage;
    slot.keep_unreaped = spec.signal_group;
    slot.stop = stop;
    (slot, spec, cancel)
}

/// The slot of an already running child (a `Child`'s communicate or
/// wait), with the `sinks` opened for it, and what the core is told of it.
pub(super) fn adopted(child: Adopted<'_>, sinks: PerStream<Option<usize>>) -> (Slot, ChildSpec) {
    let fds = child.fds;
    let spec = child_spec(
        child.terms,
        Held {
            pipes: PerStream {
                stdin: fds.stdin.is_some(),
                stdout: sinks.stdout.is_some() && fds.stdout.is_some(),
                stderr: sinks.stderr.is_some() && fds.stderr.is_some(),
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
    slot.sinks = sinks;
    slot.input = child.input;
    slot.keep_unreaped = spec.signal_group;
    slot.stop = child.terms.stop;
    slot.process = Some(child.process);
    (slot, spec)
}

/// The bytes of input to write.
fn input_len(input: Option<&Arc<Vec<u8>>>) -> u64 {
    input.map_or(0, |i| i.len() as u64)
}
