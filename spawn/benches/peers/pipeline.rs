//! Benchmark 5's workload: the pipeline `yes | head -c N | wc -c`.

use std::process::Stdio as StdStdio;
use std::time::Instant;

use spawn::{Command, Stdio};

/// `yes | head -c size | wc -c` by `who`; returns the seconds.
pub fn pipeline(who: &str, size: usize) -> f64 {
    let n = size.to_string();
    let t = Instant::now();
    let out = match who {
        "spawn" => {
            (Command::new("yes")
                | Command::new("head").args(["-c", &n])
                | Command::new("wc").arg("-c"))
            .stdout(Stdio::piped())
            .run()
            .unwrap()
            .stdout
        }
        "std" => {
            let mut yes = std::process::Command::new("yes")
                .stdout(StdStdio::piped())
                .spawn()
                .unwrap();
            let mut head = std::process::Command::new("head")
                .args(["-c", &n])
                .stdin(yes.stdout.take().unwrap())
                .stdout(StdStdio::piped())
                .spawn()
                .unwrap();
            let wc = std::process::Command::new("wc")
                .arg("-c")
                .stdin(head.stdout.take().unwrap())
                .output()
                .unwrap();
            head.wait().unwrap();
            yes.wait().unwrap();
            wc.stdout
        }
        "duct" => {
            duct::cmd!("yes")
                .pipe(duct::cmd!("head", "-c", &n))
                .pipe(duct::cmd!("wc", "-c"))
                .unchecked()
                .stdout_capture()
                .run()
                .unwrap()
                .stdout
        }
        _ => unreachable!(),
    };
    assert_eq!(String::from_utf8_lossy(&out).trim(), n);
    t.elapsed().as_secs_f64()
}
