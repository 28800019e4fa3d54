//! `many_at_once`: many children driven at once by one thread, timed against
//! running them one by one.
//!
//! Not in PyMOTW: this is what a loop over Python's `communicate()` cannot do.
//!
//! ```python
//! import subprocess, time
//!
//! start = time.monotonic()
//! outputs = [subprocess.run(['sh', '-c', 'sleep 0.1; echo "child $1"', 'sh', str(i)],
//!                           stdout=subprocess.PIPE).stdout
//!            for i in range(10)]
//! print('one by one: {:.2f}s'.format(time.monotonic() - start))
//! # One at a time: each run() waits for its child before the next starts.
//! # Running them together takes threads or asyncio.
//! ```
//!
//! A [`spawn::Group`] starts them all (or at most `max_running` at a time) and
//! drives every child's pipes from one thread, with no deadlock and no child
//! starved by another's output. Results come back in the order added.

use std::time::{Duration, Instant};

use spawn::{Command, Group, Stdio};

const CHILDREN: usize = 10;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs `group` and returns each child's stdout, in order, and the time taken.
fn run_group(group: &Group) -> Result<(Vec<Vec<u8>>, Duration)> {
    let start = Instant::now();
    let mut outputs = Vec::with_capacity(group.len());
    for result in group.run()? {
        outputs.push(result?.stdout);
    }
    Ok((outputs, start.elapsed()))
}

fn main() -> Result<()> {
    let cmds: Vec<Command> = (0..CHILDREN)
        .map(|i| {
            Command::shell("sleep 0.1; echo \"task $1\"")
                .arg(i.to_string())
                .stdout(Stdio::piped())
        })
        .collect();

    // One by one, as a loop over `subprocess.run()` would.
    let start = Instant::now();
    let mut one_by_one = Vec::with_capacity(CHILDREN);
    for cmd in &cmds {
        one_by_one.push(cmd.run()?.stdout);
    }
    let serial = start.elapsed();

    // All at once, and at most 4 at a time.
    let (all, all_time) = run_group(&Group::new().add_all(&cmds))?;
    let (four, four_time) = run_group(&Group::new().max_running(4).add_all(&cmds))?;

    let text = String::from_utf8(all.concat())?;
    println!("{CHILDREN} children, each `sleep 0.1; echo \"task $1\"`:");
    println!(
        "output, in the order added: {}",
        text.lines().collect::<Vec<_>>().join(", ")
    );
    println!(
        "same output every way: {}",
        one_by_one == all && all == four
    );
    println!("one by one:        {:.2}s", serial.as_secs_f64());
    println!(
        "all at once:       {:.2}s ({:.1}x faster)",
        all_time.as_secs_f64(),
        serial.as_secs_f64() / all_time.as_secs_f64()
    );
    println!(
        "at most 4 at once: {:.2}s ({:.1}x faster)",
        four_time.as_secs_f64(),
        serial.as_secs_f64() / four_time.as_secs_f64()
    );
    if one_by_one != all || all != four {
        return Err("the outputs differ".into());
    }
    Ok(())
}
