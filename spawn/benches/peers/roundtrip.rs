//! Benchmarks 2 and 3's workloads: a round trip through `cat` (input fed
//! while the output is read) and one way from `head -c N /dev/zero`, with
//! the hand-written raw loops that are their physical limit (`raw`: output
//! counted and dropped; `raw-collect`: the same loop keeping the output in a
//! `Vec<u8>`, as a user would).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio as StdStdio;
use std::time::Instant;

use spawn::{Command, Sink, Stdio};

use crate::MIB;

/// `size` bytes through `cat` and back by `who`; returns the seconds.
pub fn roundtrip(who: &str, size: usize) -> f64 {
    let data = vec![b'x'; size];
    let t = Instant::now();
    let got = match who {
        "spawn" => Command::new("cat")
            .input(data)
            .stdout(Stdio::piped())
            .run()
            .unwrap()
            .stdout
            .len(),
        "spawn-discard" => {
            Command::new("cat")
                .input(data)
                .stdout(Sink::discard())
                .run()
                .unwrap()
                .report
                .stdout_bytes as usize
        }
        "std" => {
            let mut child = std::process::Command::new("cat")
                .stdin(StdStdio::piped())
                .stdout(StdStdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || stdin.write_all(&data));
            let mut out = Vec::new();
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            writer.join().unwrap().unwrap();
            child.wait().unwrap();
            out.len()
        }
        "subprocess" => subprocess::Exec::cmd("cat")
            .stdin(data)
            .capture()
            .unwrap()
            .stdout
            .len(),
        "duct" => duct::cmd!("cat")
            .stdin_bytes(data)
            .stdout_capture()
            .run()
            .unwrap()
            .stdout
            .len(),
        // Every other contender is handed the input and frees it before it
        // returns: so do the raw loops (256 MiB take ~20 ms to unmap).
        "raw" => {
            let n = raw_roundtrip(&data, |_| {});
            drop(data);
            n
        }
        "raw-collect" => {
            let mut out = Vec::new();
            raw_roundtrip(&data, |b| out.extend_from_slice(b));
            drop(data);
            out.len()
        }
        _ => unreachable!(),
    };
    assert_eq!(got, size);
    t.elapsed().as_secs_f64()
}

/// `head -c size /dev/zero` read by `who`; returns the seconds.
pub fn oneway(who: &str, size: usize) -> f64 {
    let n = size.to_string();
    let t = Instant::now();
    let got = match who {
        "spawn-discard" => {
            Command::new("head")
                .args(["-c", &n, "/dev/zero"])
                .stdout(Sink::discard())
                .run()
                .unwrap()
                .report
                .stdout_bytes as usize
        }
        "spawn-collect" => Command::new("head")
            .args(["-c", &n, "/dev/zero"])
            .stdout(Stdio::piped())
            .run()
            .unwrap()
            .stdout
            .len(),
        "std" => std::process::Command::new("head")
            .args(["-c", &n, "/dev/zero"])
            .output()
            .unwrap()
            .stdout
            .len(),
        "subprocess" => subprocess::Exec::cmd("head")
            .args(["-c", &n, "/dev/zero"])
            .capture()
            .unwrap()
            .stdout
            .len(),
        "duct" => duct::cmd!("head", "-c", &n, "/dev/zero")
            .stdout_capture()
            .run()
            .unwrap()
            .stdout
            .len(),
        "raw" => raw_oneway(&n, |_| {}),
        "raw-collect" => {
            let mut out = Vec::new();
            raw_oneway(&n, |b| out.extend_from_slice(b));
            out.len()
        }
        _ => unreachable!(),
    };
    assert_eq!(got, size);
    t.elapsed().as_secs_f64()
}

/// The physical limit of a round trip: one thread, poll over both pipes,
/// 1 MiB pipes; each chunk read goes to `keep` (`raw`: nowhere) and the
/// count of bytes read is returned.
fn raw_roundtrip(data: &[u8], mut keep: impl FnMut(&[u8])) -> usize {
    let mut child = std::process::Command::new("cat")
        .stdin(StdStdio::piped())
        .stdout(StdStdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    for fd in [stdin.as_fd(), stdout.as_fd()] {
        let _ = spawn_sys::pipe::set_pipe_size(fd, MIB);
        spawn_sys::pipe::set_nonblocking(fd, true).unwrap();
    }
    let mut stdin = Some(stdin);
    let mut buf = vec![0u8; MIB];
    let (mut off, mut got) = (0, 0);
    loop {
        if let Some(w) = &stdin {
            while off < data.len() {
                match rustix::io::write(w, &data[off..(off + MIB).min(data.len())]) {
                    Ok(n) => off += n,
                    Err(_) => break,
                }
            }
            if off == data.len() {
                stdin = None;
            }
        }
        match rustix::io::read(&stdout, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                keep(&buf[..n]);
                got += n;
                continue;
            }
            Err(_) => {}
        }
        let mut fds = vec![rustix::event::PollFd::new(
            &stdout,
            rustix::event::PollFlags::IN,
        )];
        if let Some(w) = &stdin {
            fds.push(rustix::event::PollFd::new(w, rustix::event::PollFlags::OUT));
        }
        let _ = rustix::event::poll(&mut fds, None);
    }
    child.wait().unwrap();
    got
}

/// The physical limit of reading one way: a blocking read loop into one
/// 1 MiB buffer, 1 MiB pipe; each chunk read goes to `keep` (`raw`:
/// nowhere) and the count of bytes read is returned.
fn raw_oneway(n: &str, mut keep: impl FnMut(&[u8])) -> usize {
    let mut child = std::process::Command::new("head")
        .args(["-c", n, "/dev/zero"])
        .stdout(StdStdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _ = spawn_sys::pipe::set_pipe_size(&stdout, MIB);
    let mut buf = vec![0u8; MIB];
    let mut got = 0;
    loop {
        match rustix::io::read(&stdout, &mut buf) {
            Ok(0) => break,
            Ok(k) => {
                keep(&buf[..k]);
                got += k;
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("{e}"),
        }
    }
    child.wait().unwrap();
    got
}
