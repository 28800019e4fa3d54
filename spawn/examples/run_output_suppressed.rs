//! `run_output_suppressed`: both streams sent to `/dev/null`.
//!
//! The spawn version of `subprocess_run_output_error_suppress.py` from
//! PyMOTW-3's subprocess chapter:
//!
//! ```python
//! import subprocess
//!
//! try:
//!     completed = subprocess.run(
//!         'echo to stdout; echo to stderr 1>&2; exit 1',
//!         shell=True,
//!         stdout=subprocess.DEVNULL,
//!         stderr=subprocess.DEVNULL,
//!     )
//! except subprocess.CalledProcessError as err:
//!     print('ERROR:', err)
//! else:
//!     print('returncode:', completed.returncode)
//!     print('stdout is {!r}'.format(completed.stdout))
//!     print('stderr is {!r}'.format(completed.stderr))
//! ```
//!
//! `Stdio::null()` is `subprocess.DEVNULL`: the child writes to `/dev/null`
//! and nothing is read. Python says `None` for a stream it did not capture;
//! spawn's `Output` holds an empty `Vec`, and the report counts 0 bytes read.
//! (`Sink::discard()` is the other way to drop output: the child gets a pipe,
//! and the bytes are read and counted, then dropped.)

use spawn::{Command, Sink, Stdio};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let script = "echo to stdout; echo to stderr 1>&2; exit 1";
    let completed = Command::shell(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .run()?;
    println!("returncode: {}", completed.status.code().unwrap_or(-1));
    println!("stdout is {:?}", String::from_utf8_lossy(&completed.stdout));
    println!("stderr is {:?}", String::from_utf8_lossy(&completed.stderr));
    println!(
        "bytes read: {} of stdout, {} of stderr",
        completed.report.stdout_bytes, completed.report.stderr_bytes
    );

    let completed = Command::shell(script)
        .stdout(Sink::discard())
        .stderr(Sink::discard())
        .run()?;
    println!("with Sink::discard():");
    println!("stdout is {:?}", String::from_utf8_lossy(&completed.stdout));
    println!("stderr is {:?}", String::from_utf8_lossy(&completed.stderr));
    println!(
        "bytes read: {} of stdout, {} of stderr",
        completed.report.stdout_bytes, completed.report.stderr_bytes
    );
    Ok(())
}
