//! Scenarios about waiting and signalling: another part of the program
//! reaps our children (`waitpid(-1)` in a thread), `SIGCHLD` is ignored (the
//! kernel reaps them), pidfds are turned off, and a pid (or process group
//! id) is reused by another process once our child is reaped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::process::WaitOptions;
use spawn::{Command, Error, ExitStatus, Group, Output, Signal, Stdio};

use crate::{SKIP, say, sh};

/// Whether `e` says the child was reaped by someone else (`ECHILD`).
fn reaped_elsewhere(e: &Error) -> bool {
    matches!(e, Error::StatusLost { .. })
}

/// Counts of results: correct statuses, and clear "reaped elsewhere" errors.
#[derive(Default, Debug)]
struct Tally {
    ours: usize,
    lost: usize,
}

impl Tally {
    /// A run's result: the right status and output, or a clear error.
    fn run(&mut self, what: &str, r: Result<Output, Error>, code: i32, stdout: &str) {
        match r {
            Ok(out) => {
                assert_eq!(out.status.code(), Some(code), "{what}");
                assert_eq!(out.stdout_lossy(), stdout, "{what}");
                self.ours += 1;
            }
            Err(e) => self.error(what, &e),
        }
    }

    /// A wait's result: the right status, or a clear error.
    fn status(&mut self, what: &str, r: Result<ExitStatus, Error>, code: i32) {
        match r {
            Ok(s) => {
                assert_eq!(s.code(), Some(code), "{what}");
                self.ours += 1;
            }
            Err(e) => self.error(what, &e),
        }
    }

    fn error(&mut self, what: &str, e: &Error) {
        assert!(
            reaped_elsewhere(e),
            "{what}: neither the status nor a reaped-elsewhere error: {e:?}"
        );
        assert_eq!(e.program(), "sh", "{what}: {e}");
        self.lost += 1;
    }
}

/// Every way of waiting, with each result checked by `tally`; none may hang.
fn every_way_of_waiting(tally: &mut Tally) {
    for i in 0..30 {
        let r = sh("echo out $1; exit 3", &[&i.to_string()])
            .stdout(Stdio::piped())
            .run();
        tally.run("run", r, 3, &format!("out {i}\n"));
    }
    let results = Group::new()
        .max_running(8)
        .add_all(
            (0..30).map(|i| sh("echo out $1; exit 3", &[&i.to_string()]).stdout(Stdio::piped())),
        )
        .run()
        .expect("the group runs");
    for (i, r) in results.into_iter().enumerate() {
        tally.run("group", r, 3, &format!("out {i}\n"));
    }
    for _ in 0..10 {
        let child = sh("exit 4", &[]).spawn().expect("spawn");
        tally.status("wait", child.wait(), 4);
    }
    for _ in 0..10 {
        let child = sh("exit 4", &[]).spawn().expect("spawn");
        let start = Instant::now();
        match child.wait_timeout(Duration::from_secs(60)) {
            Ok(Some(s)) => tally.status("wait_timeout", Ok(s), 4),
            Ok(None) => panic!("wait_timeout gave up on an exited child"),
            Err(e) => tally.error("wait_timeout", &e),
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "wait_timeout hung"
        );
    }
    for _ in 0..5 {
        let child = sh("exit 4", &[]).spawn().expect("spawn");
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(s)) => break tally.status("try_wait", Ok(s), 4),
                Ok(None) => {}
                Err(e) => break tally.error("try_wait", &e),
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "try_wait never settled"
            );
            std::thread::yield_now();
        }
    }
    for _ in 0..5 {
        let start = Instant::now();
        let r = sh("echo partial; exec sleep 10", &[])
            .stdout(Stdio::piped())
            .timeout(Duration::from_millis(100))
            .kill_grace(Duration::from_millis(500))
            .run();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "a timeout took {:?}",
            start.elapsed()
        );
        match r {
            Err(Error::Timeout { partial, .. }) => {
                // (Empty if the TERM came before the shell's echo.)
                assert!(
                    partial.stdout == b"partial\n" || partial.stdout.is_empty(),
                    "{partial:?}"
                );
                assert_eq!(partial.status.signal(), Some(15));
                tally.ours += 1;
            }
            Err(e) => tally.error("timeout", &e),
            Ok(out) => panic!("no timeout: {out:?}"),
        }
    }
    for _ in 0..5 {
        match (sh("echo piped", &[]) | sh("cat", &[]))
            .stdout(Stdio::piped())
            .run()
        {
            Ok(out) => {
                assert_eq!(out.stdout, b"piped\n");
                assert!(out.statuses.iter().all(ExitStatus::success));
                tally.ours += 1;
            }
            Err(e) => tally.error("pipeline", &e),
        }
    }
}

/// A thread reaps every child of the process with `waitpid(-1)` while spawn
/// runs children every way it can: each result is the right status or a
/// clear "reaped elsewhere" error, and nothing hangs.
pub fn thief() -> String {
    let stop = Arc::new(AtomicBool::new(false));
    let stolen = Arc::new(AtomicUsize::new(0));
    {
        let (stop, stolen) = (Arc::clone(&stop), Arc::clone(&stolen));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match rustix::process::wait(WaitOptions::empty()) {
                    Ok(Some(_)) => {
                        stolen.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(None) => {}
                    // ECHILD: no child right now; look again soon.
                    Err(_) => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        });
    }
    let mut tally = Tally::default();
    every_way_of_waiting(&mut tally);
    stop.store(true, Ordering::Relaxed);
    let stolen = stolen.load(Ordering::Relaxed);
    assert!(stolen > 0, "the thief never reaped anything: {tally:?}");
    assert!(
        tally.lost <= stolen,
        "{} errors but only {stolen} children stolen",
        tally.lost
    );
    format!(
        "{} correct results, {} clear errors, {stolen} children reaped by the thief",
        tally.ours, tally.lost
    )
}

/// Run under a parent that set `SIGCHLD` to `SIG_IGN` before exec'ing us:
/// the kernel reaps every child at exit, so no status can be had. Every way
/// of waiting must end (no hang) with a clear error. With `strict`, the
/// output read before is also kept in the error, as for every other error
/// after the start.
pub fn sigchld_ignored(strict: bool) -> String {
    assert!(
        crate::procfs::ignores_signal(libc::SIGCHLD),
        "SIGCHLD is not ignored here: the parent's set-up did not take"
    );
    if strict {
        let e = sh("echo kept", &[])
            .stdout(Stdio::piped())
            .run()
            .expect_err("no status can be had");
        assert!(reaped_elsewhere(&e), "{e:?}");
        assert!(e.to_string().contains("reaped"), "unclear: {e}");
        assert_eq!(
            e.output().map(|o| o.stdout_lossy().into_owned()),
            Some("kept\n".to_owned()),
            "the output read before the error is lost: {e:?}"
        );
        let child = sh("exit 4", &[]).spawn().expect("spawn");
        let e = child.wait().expect_err("no status can be had");
        assert!(
            e.to_string().contains("reaped"),
            "Child::wait's error does not say why: {e}"
        );
        return "the output was kept and the errors say why".to_owned();
    }
    let mut tally = Tally::default();
    every_way_of_waiting(&mut tally);
    // A dropped child is reaped by the kernel: the reaper must not wait forever.
    drop(Command::new("sleep").arg("0.1").spawn().expect("spawn"));
    let start = Instant::now();
    while spawn::diag::reaper_pending() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reaper hangs"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Timeouts may end as timeouts (counted as ours) or as errors.
    assert!(
        tally.lost >= 90,
        "statuses where none can be had? {tally:?}"
    );
    format!(
        "{} clear errors, {} timeouts; no hang",
        tally.lost, tally.ours
    )
}

fn expect_code(what: &str, r: &Result<Output, Error>, code: i32) -> String {
    let out = r.as_ref().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(out.status.code(), Some(code), "{what}");
    format!(
        "code={code} stdout={:?} stderr={:?}",
        out.stdout_lossy(),
        out.stderr_lossy()
    )
}

fn expect_timeout(what: &str, r: Result<Output, Error>, start: Instant, bound: Duration) -> String {
    let elapsed = start.elapsed();
    assert!(
        elapsed < bound,
        "{what}: {elapsed:?} past its bound {bound:?}"
    );
    match r {
        Err(Error::Timeout { partial, .. }) => format!(
            "timeout signal={:?} stdout={:?}",
            partial.status.signal(),
            partial.stdout_lossy()
        ),
        other => panic!("{what}: {other:?}"),
    }
}

/// The same battery with and without pidfds (`SPAWN_NO_PIDFD=1`): the test
/// compares the transcripts (all but the first line) and each step is also
/// checked here.
pub fn pidfd_parity() -> Vec<String> {
    let mut t = vec![format!("pidfd={}", spawn_sys::pidfd::pidfd_supported())];
    let grace = Duration::from_millis(300);
    let bound = Duration::from_secs(3);
    // run
    let r = sh("echo out; echo err >&2; exit 7", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run();
    t.push(format!("run: {}", expect_code("run", &r, 7)));
    // timeout, TERM obeyed
    let start = Instant::now();
    let r = sh("echo partial; exec sleep 10", &[])
        .stdout(Stdio::piped())
        .timeout(Duration::from_millis(500))
        .kill_grace(grace)
        .run();
    t.push(format!(
        "timeout: {}",
        expect_timeout("timeout", r, start, bound)
    ));
    // timeout, TERM ignored: KILL after the grace (the timeout leaves the
    // shell ample time to set its trap first)
    let start = Instant::now();
    let r = sh("trap '' TERM; echo ready; exec sleep 10", &[])
        .stdout(Stdio::piped())
        .timeout(Duration::from_secs(1))
        .kill_grace(grace)
        .run();
    assert!(
        start.elapsed() >= Duration::from_millis(1300),
        "KILL before the grace"
    );
    t.push(format!(
        "timeout ignoring TERM: {}",
        expect_timeout("timeout ignoring TERM", r, start, bound)
    ));
    // Group
    let mut cmds: Vec<Command> = (0..10)
        .map(|i| sh("echo $1; exit $1", &[&i.to_string()]).stdout(Stdio::piped()))
        .collect();
    cmds.push(Command::new("no-such-program-spawn-hostile"));
    cmds.push(
        sh("exec sleep 10", &[])
            .timeout(Duration::from_millis(100))
            .kill_grace(grace),
    );
    let start = Instant::now();
    let results = Group::new()
        .max_running(4)
        .add_all(cmds)
        .run()
        .expect("group");
    assert!(start.elapsed() < bound, "group took {:?}", start.elapsed());
    for (i, r) in results.into_iter().enumerate() {
        let line = match (i, r) {
            (0..10, r) => expect_code("group", &r, i as i32),
            (10, Err(e)) => format!("error {}", e.kind()),
            (11, r) => expect_timeout("group timeout", r, start, bound),
            (_, other) => panic!("group {i}: {other:?}"),
        };
        t.push(format!("group {i}: {line}"));
    }
    // Child: wait_timeout on a running, a killed and an exited child.
    let child = Command::new("sleep").arg("10").spawn().expect("spawn");
    let start = Instant::now();
    let running = child
        .wait_timeout(Duration::from_millis(100))
        .expect("wait_timeout");
    assert!(start.elapsed() >= Duration::from_millis(100));
    child.kill().expect("kill");
    let killed = child
        .wait_timeout(Duration::from_secs(30))
        .expect("wait_timeout");
    let child = sh("exit 5", &[]).spawn().expect("spawn");
    let exited = child
        .wait_timeout(Duration::from_secs(30))
        .expect("wait_timeout");
    assert!(start.elapsed() < bound);
    t.push(format!(
        "wait_timeout: running={running:?} killed={killed:?} exited={exited:?}"
    ));
    // Child: try_wait until it settles, then signals after the reap are no-ops.
    let child = sh("exit 6", &[]).spawn().expect("spawn");
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "try_wait never settled"
        );
        std::thread::yield_now();
    };
    child.kill().expect("kill after the reap is a no-op");
    t.push(format!("try_wait: {status:?}"));
    // Child: communicate_timeout stops at its timeout with what was read;
    // the next call carries on and returns everything once.
    let mut child = sh("echo first; exec sleep 10", &[])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let first = match child.communicate_timeout(b"", Duration::from_secs(1)) {
        Err(Error::Timeout { partial, .. }) => partial.stdout_lossy().into_owned(),
        other => panic!("communicate_timeout: {other:?}"),
    };
    assert!(
        start.elapsed() < bound,
        "communicate_timeout took {:?}",
        start.elapsed()
    );
    child.kill().expect("kill");
    let second = child.communicate(b"").expect("communicate");
    t.push(format!(
        "communicate: first={first:?} then stdout={:?} {:?}",
        second.stdout_lossy(),
        second.status
    ));
    // A dropped running child is reaped in the background.
    drop(Command::new("sleep").arg("0.1").spawn().expect("spawn"));
    let start = Instant::now();
    while spawn::diag::reaper_pending() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reaper hangs"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let zombies = crate::procfs::zombies_after_settling(Duration::from_secs(10));
    assert!(zombies.is_empty(), "zombies: {zombies:?}");
    t.push("dropped: reaped, no zombie".to_owned());
    t
}

const NS_LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";

/// A `sleep 30` (leading its own group with `group`) that got pid `pid`,
/// made to by writing `pid - 1` to `ns_last_pid` (root only); `None` if that
/// file cannot be written here.
fn process_with_pid(pid: u32, group: bool) -> Option<std::process::Child> {
    use std::os::unix::process::CommandExt as _;
    for _ in 0..200 {
        std::fs::write(NS_LAST_PID, (pid - 1).to_string()).ok()?;
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        if group {
            cmd.process_group(0);
        }
        let mut b = cmd.spawn().expect("sleep starts");
        if b.id() == pid {
            return Some(b);
        }
        // Another process took it first; try again.
        let _ = b.kill();
        let _ = b.wait();
    }
    panic!("pid {pid} was never handed out again")
}

/// Our child exits and is reaped; another process gets its pid (and, with
/// `group`, leads a process group with that id). Every signal call on our
/// `Child` must leave that process alone.
pub fn pid_reuse(group: bool) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    let cmd = if group {
        Command::new("true").process_group(0)
    } else {
        Command::new("true")
    };
    let a = cmd.spawn().expect("spawn");
    let pid = a.pid();
    assert!(a.wait().expect("wait").success());
    let Some(mut b) = process_with_pid(pid, group) else {
        say(&format!("skip: cannot write {NS_LAST_PID} (needs root)"));
        std::process::exit(SKIP);
    };
    let results = if group {
        vec![
            format!("kill_group: {:?}", a.kill_group().map_err(|e| e.kind())),
            format!(
                "signal_group: {:?}",
                a.signal_group(Signal::TERM).map_err(|e| e.kind())
            ),
        ]
    } else {
        vec![
            format!("kill: {:?}", a.kill().map_err(|e| e.kind())),
            format!("terminate: {:?}", a.terminate().map_err(|e| e.kind())),
            format!(
                "send_signal: {:?}",
                a.send_signal(Signal::USR1).map_err(|e| e.kind())
            ),
        ]
    };
    // Had any of those reached b, it would be dead of that signal already
    // (delivery to a sleeping process happens before kill(2) returns to the
    // next kill): it must die of ours.
    let b_pid = spawn_sys::Pid::from_raw(pid as i32).expect("b's pid");
    spawn_sys::signal::signal_process(b_pid, libc::SIGUSR2).expect("signal b");
    let status = b.wait().expect("wait for b");
    assert_eq!(
        status.signal(),
        Some(libc::SIGUSR2),
        "pid {pid} was reused by another process, and a signal meant for our reaped child reached it ({status}); calls: {results:?}"
    );
    format!(
        "pid {pid} reused{}; {} left it alone",
        if group { " as a process group id" } else { "" },
        results.join(", ")
    )
}

/// The uid the scenario runs as: a user of its own, so that its
/// `RLIMIT_NPROC` counts this process's tasks and nothing else.
const NOBODY: u32 = 65534;

/// Tasks (threads) of every process whose real uid is `uid`: what the
/// kernel counts against `RLIMIT_NPROC`.
fn tasks_of(uid: u32) -> u64 {
    let mut n = 0;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    // Numeric entries only (`/proc/self` is one of them again).
    for p in procs.flatten().filter(|p| {
        p.file_name()
            .to_str()
            .is_some_and(|s| s.parse::<u32>().is_ok())
    }) {
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let real = std::fs::read_to_string(t.path().join("status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Uid:"))
                        .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
                });
            if real == Some(uid) {
                n += 1;
            }
        }
    }
    n
}

/// This process's thread count.
fn threads() -> u64 {
    crate::procfs::status_field("Threads")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The state of our child `pid` (`None`: reaped, no longer our child).
fn child_state(pid: u32) -> Option<char> {
    crate::procfs::children_of(std::process::id())
        .into_iter()
        .find(|(p, _)| *p == pid)
        .map(|(_, s)| s)
}

/// Waits (bounded) until `done`, observing `/proc`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Blocking calls (`run`, with pipes or not, `Pipeline::run`, `Group::run`) reap
/// their children themselves and make no reaper thread: a program that
/// only runs commands keeps one thread. The first child that may outlive
/// its call (a `Child`) makes it.
pub fn blocking_runs_make_no_thread() -> String {
    assert_eq!(threads(), 1, "the scenario must start single-threaded");
    assert!(Command::new("true").run().expect("true").status.success());
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .expect("run with pipes");
    assert_eq!(
        (&out.stdout[..], &out.stderr[..]),
        (&b"out\n"[..], &b"err\n"[..])
    );
    let piped = spawn::Pipeline::new(Command::new("echo").arg("a b"))
        .pipe(Command::new("wc").arg("-w"))
        .stdout(Stdio::piped())
        .run()
        .expect("pipeline");
    assert_eq!(String::from_utf8_lossy(&piped.stdout).trim(), "2");
    let all = Group::new()
        .add_all((0..3).map(|i| {
            Command::new("sh")
                .args(["-c", "echo $0", &i.to_string()])
                .stdout(Stdio::piped())
        }))
        .run()
        .expect("group");
    assert!(
        all.iter()
            .all(|r| r.as_ref().is_ok_and(|o| o.status.success()))
    );
    assert_eq!(threads(), 1, "a blocking call left a thread behind");
    let child = Command::new("true").spawn().expect("spawn");
    assert_eq!(threads(), 2, "a Child started no reaper thread");
    assert!(child.wait().expect("wait").success());
    "run (with and without pipes), Pipeline::run and Group::run left one thread; a Child started the reaper".to_owned()
}

/// Dropped children under a low `RLIMIT_NPROC`, where no thread can be
/// made. As root (exempt from the limit) the scenario first becomes
/// `nobody`, a user of its own; otherwise it skips (others of the same user
/// would share the count).
///
/// 1. Only one more task fits: the child takes it, so no reaper thread can
///    start. The dropped child exits and is a zombie; the next call into
///    spawn (`Command::run`) reaps it first, freeing its slot for its own
///    child (which would otherwise fail with `EAGAIN`).
/// 2. Room for two: the reaper thread starts with the spawn. With the limit
///    then lowered so that no task at all can be made, the dropped child is
///    still reaped, with no further call into spawn.
pub fn nproc_reaper() -> String {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    // No thread exists yet, so the per-thread calls change the process.
    assert_eq!(threads(), 1, "the scenario must start single-threaded");
    crate::become_user(NOBODY);
    let hard = getrlimit(Resource::Nproc).maximum;
    let limit = |n: u64| {
        setrlimit(
            Resource::Nproc,
            Rlimit {
                current: Some(n),
                maximum: hard,
            },
        )
        .expect("set RLIMIT_NPROC");
    };

    // 1. No thread can start: the sweeps reap.
    let n = tasks_of(NOBODY);
    limit(n + 1);
    // cat reads a pipe whose writer we hold: it runs until we close it,
    // after the drop.
    let (r, w) = spawn_sys::pipe::pipe().expect("pipe");
    let a = Command::new("cat")
        .stdin(Stdio::from(r))
        .spawn()
        .expect("cat starts in the one slot left");
    let a_pid = a.pid();
    drop(a);
    assert_eq!(child_state(a_pid).map(|_| ()), Some(()), "cat ended early");
    drop(w); // cat exits: a zombie, with no thread to reap it
    wait_for("the dropped cat never exited", || {
        child_state(a_pid).is_some_and(|s| s == 'Z')
    });
    assert_eq!(threads(), 1, "a reaper thread started past the limit?");
    let out = Command::new("true").run();
    assert!(
        out.as_ref().is_ok_and(|o| o.status.success()),
        "the next run found no slot: the dropped child's zombie still held it: {out:?}"
    );
    assert_eq!(
        child_state(a_pid),
        None,
        "the dropped child is still a zombie after the next call"
    );
    assert_eq!(spawn::diag::reaper_pending(), 0);

    // 2. The thread starts with a child: a drop needs no new one.
    let n = tasks_of(NOBODY);
    limit(n + 2);
    let (r, w) = spawn_sys::pipe::pipe().expect("pipe");
    let b = Command::new("cat")
        .stdin(Stdio::from(r))
        .spawn()
        .expect("cat starts");
    assert_eq!(
        threads(),
        2,
        "no reaper thread started with the first child"
    );
    let b_pid = b.pid();
    limit(1);
    drop(b);
    drop(w); // cat exits after the drop
    wait_for(
        "the dropped child stays a zombie: no reaper thread, and no thread could be made at the drop",
        || child_state(b_pid).is_none(),
    );
    limit(hard.unwrap_or(u64::MAX));
    "with no thread possible, the next run reaped the dropped child first; with the thread started at the spawn, a drop at the limit was reaped".to_owned()
}
