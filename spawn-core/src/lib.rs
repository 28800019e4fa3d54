//! The communicate state machine and the many-children scheduler of spawn.
//!
//! (Being written: see issue 3.)
#![no_std]
#![forbid(unsafe_code)]
