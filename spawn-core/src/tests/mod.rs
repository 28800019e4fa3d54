//! The crate's tests: deterministic unit tests of the scheduler, and
//! (with the simulated kernel) properties and regression tests.

mod communicator;
mod group;
mod job_control;
mod starting;
mod stopping;
mod unit;
