//! # Async
//!
//! (TODO docs)

mod child;
mod drive;
mod group;
mod pipe;
mod run;

pub use child::AsyncChild;
pub use pipe::{AsyncChildStderr, AsyncChildStdin, AsyncChildStdout};
