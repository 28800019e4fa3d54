//! One command's run through the engine: the engine of `Command::run`,
//! `run_traced`, `run_lines` and `run_async`, with the command's wiring
//! added and its hooks (forwarder, tracer) handed in.

use crate::driver::{Engine, Tracer};
use crate::wiring::{Stops, Wiring};
use crate::{Error, Output};

/// `Command::run` and `Command::run_traced`: one child through the engine.
pub(crate) fn run_one<'t>(
    cmd: &crate::Command,
    tracer: Option<Box<Tracer<'t>>>,
) -> Result<Output, Error> {
    let (mut engine, ix) = one(cmd, tracer, Stops::ByCommand)?;
    engine.set_driving(crate::driver::Driving::InCall);
    engine.run(None)?;
    crate::finish::result(&mut engine, ix)
}

/// The engine of one command's run, the command added to it; returns its
/// slot (`run`, `run_traced`, `run_async`).
pub(crate) fn one<'t>(
    cmd: &crate::Command,
    tracer: Option<Box<Tracer<'t>>>,
    stops: Stops,
) -> Result<(Engine<'t>, usize), Error> {
    let wiring = Wiring::command(cmd, stops)?;
    let mut engine = Engine::new(0);
    if let Some(f) = &cmd.settings.forwarder {
        engine.set_forwarder(f);
    }
    if let Some(t) = tracer {
        engine.set_tracer(t);
    }
    let ix = engine.add(wiring)?;
    Ok((engine, ix))
}
