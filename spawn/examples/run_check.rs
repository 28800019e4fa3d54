//! `run_check`: a non-zero exit as an error, like `check=True`.
//!
//! The spawn version of `subprocess_run_check.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! try:
//!     subprocess.run(['false'], check=True)
//! except subprocess.CalledProcessError as err:
//!     print('ERROR:', err)
//! ```
//!
//! `Command::check` is `run` plus `Error::Failed` when the exit code is not 0.
//! The error carries the status and the output, like `CalledProcessError`.

use spawn::{Command, Error};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Command::new("false").check() {
        Ok(_) => println!("false succeeded?"),
        Err(err @ Error::Failed { .. }) => println!("ERROR: {err}"),
        // Anything else (say, no `false` on this system) is a real failure.
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
