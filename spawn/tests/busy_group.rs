//! The EOF grace under load, in a process of its own (it runs hundreds of
//! children at once; other tests measure this process's memory).

use std::time::Duration;

use spawn::{Command, Stdio};

fn sh(script: &str) -> Command {
    Command::new("/bin/sh").args(["-c", script])
}

#[test]
fn output_written_before_the_exit_survives_a_zero_eof_grace_in_a_busy_group() {
    // Hundreds of exits and readable pipes at once: the driver takes them
    // from epoll in batches, so it may learn of an exit (and end its zero
    // grace) before it learns that the pipes have data. That data is still
    // read before the pipes are abandoned.
    let n = 300;
    let cmds = (0..n).map(|_| {
        sh("sleep 60 & echo $! >&2; head -c 60000 /dev/zero")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .eof_grace(Duration::ZERO)
    });
    let results = spawn::Group::new().add_all(cmds).run().unwrap();
    let mut lost = 0;
    for r in &results {
        let out = r.as_ref().unwrap();
        let pid = String::from_utf8_lossy(&out.stderr);
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = Command::new("kill").arg(pid.to_string()).run();
        }
        if out.stdout.len() != 60000 || out.stderr.is_empty() {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "{lost} of {n} children lost output");
}
