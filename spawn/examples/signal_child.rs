//! `signal_child`: send `SIGUSR1` to a child that handles it.
//!
//! The spawn version of `signal_parent.py` from PyMOTW-3's subprocess
//! chapter, with the child `signal_child.py` (beside this file), which installs
//! a handler for `SIGUSR1` and waits for the signal:
//!
//! ```python
//! import os
//! import signal
//! import subprocess
//! import time
//! import sys
//!
//! proc = subprocess.Popen(['python3', 'signal_child.py'])
//! print('PARENT      : Pausing before sending signal...')
//! sys.stdout.flush()
//! time.sleep(1)
//! print('PARENT      : Signaling child')
//! sys.stdout.flush()
//! os.kill(proc.pid, signal.SIGUSR1)
//! ```
//!
//! Python sleeps a second and hopes the child installed its handler by then
//! (if not, `SIGUSR1` kills it). Here the parent reads the child's stdout and
//! signals once the child says it is waiting: no sleep, no race.
//! `Child::send_signal` goes through a pidfd where the kernel has them, so
//! the signal can never reach another process that reused the pid.

use std::io::{BufRead, BufReader};

use spawn::{Command, Signal, Stdio};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut proc = Command::new("python3")
        .arg("signal_child.py")
        .cwd(EXAMPLES)
        .stdout(Stdio::piped())
        .spawn()?;
    println!("PARENT      : Pausing before sending signal...");
    let mut lines = BufReader::new(proc.take_stdout().ok_or("stdout is not piped")?).lines();
    loop {
        let line = lines
            .next()
            .ok_or("the child ended before it was ready")??;
        println!("{line}");
        if line.ends_with("Pausing to wait for signal") {
            break;
        }
    }
    println!("PARENT      : Signaling child");
    proc.send_signal(Signal::USR1)?;
    for line in lines {
        println!("{}", line?);
    }
    let status = proc.wait()?;
    println!("PARENT      : child ended: {status}");
    if !status.success() {
        return Err(format!("signal_child.py failed: {status}").into());
    }
    Ok(())
}
