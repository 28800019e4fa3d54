//! `signal_process_group`: signal a shell and its children through their
//! process group.
//!
//! The spawn version of `subprocess_signal_setpgrp.py` (and its sibling
//! `subprocess_signal_setsid.py`) from PyMOTW-3's subprocess chapter, with the
//! grandchild `signal_child.py` (beside this file):
//!
//! ```python
//! import os
//! import signal
//! import subprocess
//! import tempfile
//! import time
//! import sys
//!
//!
//! def show_setting_prgrp():
//!     print('Calling os.setpgrp() from {}'.format(os.getpid()))
//!     os.setpgrp()
//!     print('Process group is now {}'.format(
//!         os.getpid(), os.getpgrp()))
//!     sys.stdout.flush()
//!
//!
//! script = '''#!/bin/sh
//! echo "Shell script in process $$"
//! set -x
//! python3 signal_child.py
//! '''
//! script_file = tempfile.NamedTemporaryFile('wt')
//! script_file.write(script)
//! script_file.flush()
//!
//! proc = subprocess.Popen(
//!     ['sh', script_file.name],
//!     preexec_fn=show_setting_prgrp,
//! )
//! print('PARENT      : Pausing before signaling {}...'.format(
//!     proc.pid))
//! sys.stdout.flush()
//! time.sleep(1)
//! print('PARENT      : Signaling process group {}'.format(
//!     proc.pid))
//! sys.stdout.flush()
//! os.killpg(proc.pid, signal.SIGUSR1)
//! time.sleep(3)
//! ```
//!
//! Python needs a `preexec_fn` (run between `fork` and `exec`, unsafe in a
//! threaded parent) to call `setpgrp`. `Command::process_group(0)` asks the
//! kernel for the same thing as a step of the spawn itself (no fork of the
//! parent: a vfork-style `clone3`, or `posix_spawn`), and
//! `Child::signal_group` is `os.killpg`. Both the shell and `signal_child.py`
//! get `SIGUSR1`: the child's handler runs, the shell dies of it.

use std::io::{BufRead, BufReader};

use spawn::{Command, Signal, Stdio};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

const SCRIPT: &str = r#"echo "Shell script in process $$"
set -x
python3 signal_child.py
echo "Shell script: python3 exited with $?"
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut proc = Command::shell(SCRIPT)
        .cwd(EXAMPLES)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::merge()) // the `set -x` trace, in order with the rest
        .spawn()?;
    let shell = proc.pid();
    println!("PARENT      : Started {shell} as the leader of a new process group");
    println!("PARENT      : Pausing before signaling {shell}...");
    let mut lines = BufReader::new(proc.take_stdout().ok_or("stdout is not piped")?).lines();
    loop {
        let line = lines
            .next()
            .ok_or("the script ended before it was ready")??;
        println!("{line}");
        if line.ends_with("Pausing to wait for signal") {
            break;
        }
    }
    println!("PARENT      : Signaling process group {shell}");
    proc.signal_group(Signal::USR1)?;
    for line in lines {
        println!("{}", line?);
    }
    let status = proc.wait()?;
    println!("PARENT      : shell {shell} ended: {status}");
    if status.signal() != Some(Signal::USR1.as_raw()) {
        return Err(format!("expected the shell to die of SIGUSR1, not {status}").into());
    }
    Ok(())
}
