//! Helpers shared by the areas: options for a program, running a child
//! with its output captured (through our own epoll, with a deadline that
//! only catches hangs), and running a check on both spawn paths.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use spawn_sys::{
    CStringArray, Epoll, FdAction, Interest, Pid, SpawnOptions, env_array, find_program,
    set_nonblocking,
};

/// The `PATH` the children get.
pub const PATH: &[u8] = b"/usr/bin:/bin";

/// Long enough for a loaded machine; only there to turn a hang into a failure.
pub const HANG: Duration = Duration::from_secs(60);

pub fn argv(args: &[&[u8]]) -> CStringArray {
    let mut a = CStringArray::new();
    for x in args {
        a.push(x).unwrap();
    }
    a
}

/// Options to run `program` (searched in [`PATH`]) with `args` and only
/// `PATH` in the environment.
pub fn opts<'fd>(program: &str, args: &[&[u8]]) -> SpawnOptions<'fd> {
    let program = find_program(program.as_bytes(), Some(PATH)).unwrap();
    let mut all: Vec<&[u8]> = vec![program.as_bytes()];
    all.extend_from_slice(args);
    let envp = env_array([(&b"PATH"[..], PATH)]).unwrap();
    SpawnOptions::new(program.clone(), argv(&all), envp)
}

pub fn sh<'fd>(script: &str) -> SpawnOptions<'fd> {
    opts("sh", &[b"-c", script.as_bytes()])
}

pub fn cstring(s: impl AsRef<[u8]>) -> CString {
    CString::new(s.as_ref()).unwrap()
}

/// Makes [`spawn_sys::spawn`] take the fork+exec path (a hook that does
/// nothing changes nothing else).
pub fn force_fork(o: &mut SpawnOptions<'_>) {
    o.fork.pre_exec = Some(Box::new(|| Ok(())));
}

/// Runs `check(fork)` for the plain path (`clone3`, or `posix_spawn` under
/// `SPAWN_NO_CLONE3=1`), then the fork path.
pub fn both_paths(mut check: impl FnMut(bool)) {
    for fork in [false, true] {
        check(fork);
    }
}

/// What a finished child left.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        spawn_sys::exit_code(self.status)
    }
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `o` with its stdout and stderr piped (actions appended after its
/// own), `fork` choosing the path; waits for it.
pub fn run(mut o: SpawnOptions<'_>, fork: bool) -> Outcome {
    if fork {
        force_fork(&mut o);
    }
    let (out_r, out_w) = spawn_sys::pipe().unwrap();
    let (err_r, err_w) = spawn_sys::pipe().unwrap();
    let pid = {
        let mut actions = std::mem::take(&mut o.fd_actions);
        actions.push(FdAction::Dup2 {
            src: out_w.as_fd(),
            dst: 1,
        });
        actions.push(FdAction::Dup2 {
            src: err_w.as_fd(),
            dst: 2,
        });
        let o = SpawnOptions {
            fd_actions: actions,
            ..o
        };
        spawn_sys::spawn(&o)
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", o.program))
            .pid
    };
    drop((out_w, err_w));
    let [stdout, stderr] = read_to_end([out_r, err_r], Some(pid));
    let status = spawn_sys::wait_pid(pid, false).unwrap().unwrap().status;
    Outcome {
        stdout,
        stderr,
        status,
    }
}

/// Reads every pipe to its end, at once; fails after [`HANG`], killing
/// `pid` (our unreaped child, if any) first.
pub fn read_to_end<const N: usize>(fds: [OwnedFd; N], pid: Option<Pid>) -> [Vec<u8>; N] {
    let ep = Epoll::new().unwrap();
    let interest = Interest {
        readable: true,
        ..Interest::default()
    };
    for (i, fd) in fds.iter().enumerate() {
        set_nonblocking(fd, true).unwrap();
        ep.add(fd, i as u64, interest).unwrap();
    }
    let mut out: [Vec<u8>; N] = std::array::from_fn(|_| Vec::new());
    let mut open = N;
    let deadline = Instant::now() + HANG;
    let mut ready = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    while open > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            if let Some(pid) = pid {
                let _ = spawn_sys::signal_process(pid, libc::SIGKILL);
            }
            panic!("child {pid:?} still writing after {HANG:?}: {out:?}");
        }
        ep.wait(&mut ready, 8, Some(left)).unwrap();
        for r in &ready {
            let i = r.token as usize;
            loop {
                match rustix::io::read(&fds[i], &mut buf) {
                    Ok(0) => {
                        ep.delete(&fds[i]).unwrap();
                        open -= 1;
                        break;
                    }
                    Ok(n) => out[i].extend_from_slice(&buf[..n]),
                    Err(spawn_sys::Errno::AGAIN) => break,
                    Err(spawn_sys::Errno::INTR) => {}
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
    }
    drop(fds);
    out
}

/// Reads a pipe whose write ends are all closed (its writers exited).
pub fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(fd), &mut out).unwrap();
    out
}

/// The numbers in `/proc/self/fd` as a child printed them (`ls`).
pub fn fd_numbers(listing: &[u8]) -> Vec<i32> {
    let mut v: Vec<i32> = String::from_utf8_lossy(listing)
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    v.sort_unstable();
    v
}

/// A fresh directory for one test, removed when the returned guard drops.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("spawn-sys-{name}-"))
        .tempdir()
        .unwrap()
}

/// Options to re-run this test binary as a child, running only the test
/// `name` with `env` (plus `PATH`).
pub fn rerun_self<'fd>(name: &str, env: &[(&str, &str)]) -> SpawnOptions<'fd> {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let mut vars: Vec<(&[u8], &[u8])> = vec![(b"PATH", PATH)];
    vars.extend(env.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
    SpawnOptions::new(
        cstring(exe),
        argv(&[
            exe.as_bytes(),
            b"--exact",
            name.as_bytes(),
            b"--nocapture",
            b"--test-threads=1",
        ]),
        env_array(vars).unwrap(),
    )
}
