//! # Async
//!
//! (TODO docs)

mod drive;
mod run;
