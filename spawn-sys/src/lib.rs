//! The syscall layer of spawn: the only crate of the workspace with `unsafe`.
//!
//! (Being written: see issue 2.)
