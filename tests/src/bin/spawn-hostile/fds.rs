//! Scenarios about file descriptors: running out of them (`RLIMIT_NOFILE`
//! lowered at spawn and in the middle of a `Group`), spawning from many
//! threads while other threads open fds without close-on-exec, and a parent
//! whose fds 0, 1, 2 are closed or are private fds of its own.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spawn::{Child, Command, Error, Group, Output, Progress, Sink, Stdio};
use spawn_sys::fd::{nofile_limit, set_cloexec, set_nofile_limit};

use crate::procfs::{self, fd_table, pipe_inode, show};
use crate::{assert_too_many_open_files, sh, warm_up};

/// The lowest fd number not open: with the soft limit set to it, no new fd
/// can be opened until one is closed.
fn lowest_free_fd() -> u64 {
    let t = fd_table(None);
    (0..).find(|n| !t.contains_key(n)).unwrap_or(0) as u64
}

/// Every way into spawn, at one fd limit; each either works or fails with
/// "too many open files" naming the program. Returns (worked, refused).
fn every_way_at_the_limit(tmp: &std::path::Path) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    let mut tally = |r: Result<(), Error>, programs: &[&str]| match r {
        Ok(()) => ok += 1,
        Err(e) => {
            assert_too_many_open_files(&e, programs);
            refused += 1;
        }
    };
    // run: input, stdout and stderr piped.
    tally(
        Command::new("cat")
            .input("hello")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .run()
            .map(|out| assert_eq!(out.stdout, b"hello")),
        &["cat"],
    );
    // /dev/null routes.
    tally(
        Command::new("echo")
            .arg("x")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .run()
            .map(|out| assert!(out.status.success())),
        &["echo"],
    );
    // A file sink.
    tally(
        Command::new("echo")
            .arg("to a file")
            .stdout(Sink::file(tmp.join("sink")))
            .run()
            .map(|out| assert!(out.status.success())),
        &["echo"],
    );
    // spawn, then communicate (which needs an epoll set of its own).
    match Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            let r = child.communicate(b"popen");
            if r.is_err() {
                child.kill().expect("kill");
                child.wait().expect("wait");
            }
            tally(r.map(|out| assert_eq!(out.stdout, b"popen")), &["cat"]);
        }
        Err(e) => tally(Err(e), &["cat"]),
    }
    // A pipeline (pipes between the stages too).
    tally(
        (Command::new("cat") | Command::new("tr").args(["a-z", "A-Z"]))
            .input("pipe")
            .stdout(Stdio::piped())
            .run()
            .map(|out| assert_eq!(out.stdout, b"PIPE")),
        // A stage that could not start, or the pipeline's own epoll set.
        &["cat", "tr", "cat | tr"],
    );
    // A group of three: an error for the group as a whole names "group".
    match Group::new()
        .add_all((0..3).map(|i| {
            Command::new("echo")
                .arg(i.to_string())
                .stdout(Stdio::piped())
        }))
        .run()
    {
        Ok(results) => {
            for (i, r) in results.into_iter().enumerate() {
                tally(
                    r.map(|out| assert_eq!(out.stdout, format!("{i}\n").as_bytes())),
                    &["echo"],
                );
            }
        }
        Err(e) => tally(Err(e), &["group"]),
    }
    (ok, refused)
}

/// RLIMIT_NOFILE set to every value from "no fd left" to "a dozen left":
/// each call works or says "too many open files" naming the program, and
/// after each, the fd table is exactly what it was.
pub fn nofile_spawn() -> String {
    let tmp = std::env::temp_dir().join(format!("spawn-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    warm_up();
    let before = fd_table(None);
    let (soft, _) = nofile_limit().expect("getrlimit");
    let first_free = lowest_free_fd();
    let (mut ok, mut refused) = (0, 0);
    for extra in 0..16 {
        set_nofile_limit(first_free + extra).expect("lower RLIMIT_NOFILE");
        let (o, r) = every_way_at_the_limit(&tmp);
        set_nofile_limit(soft).expect("restore RLIMIT_NOFILE");
        ok += o;
        refused += r;
        let after = fd_table(None);
        assert_eq!(
            show(&after),
            show(&before),
            "fds leaked at a limit of {} (first free fd {first_free})",
            first_free + extra
        );
        assert!(
            procfs::zombies_after_settling(Duration::from_secs(10)).is_empty(),
            "zombies at a limit of {}",
            first_free + extra
        );
    }
    assert!(refused > 0, "the limit never bit");
    assert!(ok > 0, "nothing ever worked");
    // With the limit back, everything works.
    let (o, r) = every_way_at_the_limit(&tmp);
    assert_eq!(r, 0, "refused with the limit restored");
    let _ = std::fs::remove_dir_all(&tmp);
    format!(
        "{ok} calls worked and {refused} were refused with too many open files; no fd leaked; {o} worked after"
    )
}

/// The first `Child` dropped while running meets a process with no fd
/// left (the background reaper starts then and needs an epoll set); a second
/// one is dropped once fds are free again. Both must be reaped: no zombie.
pub fn nofile_reaper() -> String {
    let (soft, _) = nofile_limit().expect("getrlimit");
    let first = Command::new("sleep").arg("0.2").spawn().expect("spawn");
    let second = Command::new("sleep").arg("0.2").spawn().expect("spawn");
    let pids = [first.pid(), second.pid()];
    set_nofile_limit(lowest_free_fd()).expect("lower RLIMIT_NOFILE");
    drop(first);
    set_nofile_limit(soft).expect("restore RLIMIT_NOFILE");
    drop(second);
    // They exit after 0.2 s; reaped, they are no longer our children at all.
    let start = std::time::Instant::now();
    let left = loop {
        let left: Vec<(u32, char)> = procfs::children_of(std::process::id())
            .into_iter()
            .filter(|(p, _)| pids.contains(p))
            .collect();
        if left.is_empty() || start.elapsed() > Duration::from_secs(10) {
            break left;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        left.is_empty(),
        "dropped children never reaped (pid, state): {left:?}; the reaper says it waits for {}",
        spawn::diag::reaper_pending()
    );
    "both dropped children were reaped".to_owned()
}

#[derive(Default)]
struct Lowering {
    soft: u64,
    lowered_at: Option<usize>,
    restored: bool,
}

/// A `Group` of 40 (4 at a time) whose fd limit is lowered to "none left"
/// after 10 have finished and restored after 30: the children started
/// before keep running and deliver everything; those started while it was
/// low fail with "too many open files" naming their program (some after
/// half their pipes were made); nothing leaks; the next group works.
/// A `Group` with no running limit of `count` children, each with its
/// stdout piped, under an fd limit far below what starting them all at once
/// takes: the children that find no fd wait for running ones to finish and
/// give theirs back, so every one completes with its own output, and no fd
/// is left behind.
pub fn nofile_wide_group(count: usize, limit: u64) -> String {
    warm_up();
    let before = fd_table(None);
    let (soft, _) = nofile_limit().expect("getrlimit");
    set_nofile_limit(limit.min(soft)).expect("lower RLIMIT_NOFILE");
    let results = Group::new()
        .add_all((0..count).map(|i| sh("echo $1", &[&i.to_string()]).stdout(Stdio::piped())))
        .run()
        .expect("the group runs");
    set_nofile_limit(soft).expect("restore RLIMIT_NOFILE");
    assert_eq!(results.len(), count);
    let failed: Vec<String> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Ok(out) if out.status.success() && out.stdout == format!("{i}\n").as_bytes() => None,
            Ok(out) => Some(format!("{i}: {} {:?}", out.status, out.stdout)),
            Err(e) => Some(format!("{i}: {e}")),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {count} children failed under RLIMIT_NOFILE={limit}, first: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert_eq!(
        show(&fd_table(None)),
        show(&before),
        "fds leaked by the group"
    );
    format!("{count} children under RLIMIT_NOFILE={limit}: all completed")
}

/// `RLIMIT_NOFILE` lowered to the lowest free fd in the middle of a
/// `Group` (4 at a time, each with three pipes), then restored: the
/// children that find no fd wait while others run, fail only once nothing
/// running can free one, and those after the restore work; nothing leaks.
pub fn nofile_group() -> String {
    warm_up();
    let before = fd_table(None);
    let (soft, _) = nofile_limit().expect("getrlimit");
    let state = Arc::new(Mutex::new(Lowering {
        soft,
        ..Lowering::default()
    }));
    let st = Arc::clone(&state);
    // Every fd below it is open before the group starts.
    let baseline = lowest_free_fd();
    let program = |i: usize| if i % 2 == 0 { "cat" } else { "sh" };
    let cmds = (0..40).map(|i| {
        let cmd = if i % 2 == 0 {
            Command::new("cat").input(format!("child {i}\n"))
        } else {
            sh("echo \"child $1\"; echo e >&2", &[&i.to_string()])
        };
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped())
    });
    let results = Group::new()
        .max_running(4)
        .add_all(cmds)
        .on_progress(move |p: Progress| {
            let mut s = st.lock().expect("state");
            if p.done >= 10 && s.lowered_at.is_none() {
                // Below the limit every fd was open before the group: the
                // running children's fds free up above it, so once they are
                // done a child waiting for fds is refused.
                set_nofile_limit(baseline).expect("lower RLIMIT_NOFILE");
                s.lowered_at = Some(p.done);
            } else if p.done >= 30 && s.lowered_at.is_some() && !s.restored {
                set_nofile_limit(s.soft).expect("restore RLIMIT_NOFILE");
                s.restored = true;
            }
        })
        .run()
        .expect("the group runs");
    let s = state.lock().expect("state");
    assert!(
        s.lowered_at.is_some() && s.restored,
        "the limit never moved"
    );
    let mut refused = Vec::new();
    // A start made on the group's starter thread while the callback lowered
    // the limit (two at most are out at once) can make its pipes before and
    // exec after: that child runs under the low limit, and `sh` fails its
    // `>&2` itself. Nothing else may fail that way.
    let mut ran_under_the_low_limit = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(out) if !out.status.success() && program(i) == "sh" => {
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("Invalid argument"),
                    "child {i}: {} {:?}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                ran_under_the_low_limit.push(i);
            }
            Ok(out) => {
                assert!(out.status.success(), "child {i}: {}", out.status);
                assert_eq!(out.stdout, format!("child {i}\n").as_bytes(), "child {i}");
            }
            Err(e) => {
                assert_too_many_open_files(e, &[program(i)]);
                refused.push(i);
            }
        }
    }
    // Below the limit every fd was open before the group (and stays so):
    // once nothing runs, a child that still finds no fd fails.
    assert!(!refused.is_empty(), "no child was refused");
    assert!(
        ran_under_the_low_limit.len() <= 2,
        "more children than starts in flight ran under the low limit: {ran_under_the_low_limit:?}"
    );
    assert!(
        results[35..].iter().all(Result::is_ok),
        "children after the limit came back failed: {refused:?}"
    );
    assert_eq!(
        show(&fd_table(None)),
        show(&before),
        "fds leaked by the group"
    );
    assert!(procfs::zombies_after_settling(Duration::from_secs(10)).is_empty());
    let again = Group::new()
        .add_all((0..10).map(|i| {
            Command::new("echo")
                .arg(i.to_string())
                .stdout(Stdio::piped())
        }))
        .run()
        .expect("the next group runs");
    assert!(
        again
            .iter()
            .all(|r| r.as_ref().is_ok_and(|o| o.status.success()))
    );
    format!(
        "children refused while the limit was low: {refused:?}; no fd leaked; the next group worked"
    )
}

/// What `ls -ln /proc/self/fd/` printed, as fd → target.
fn parse_listing(text: &[u8]) -> BTreeMap<i32, String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let fd = left.rsplit(' ').next()?.parse().ok()?;
            Some((fd, target.to_owned()))
        })
        .collect()
}

/// A child's own listing holds exactly 0 → /dev/null, 1 and 2 → two
/// different pipes, and `ls`'s directory fd.
fn check_listing(out: &Output) {
    let t = parse_listing(&out.stdout);
    let shown = show(&t);
    assert_eq!(
        t.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "the child has other fds than 0, 1, 2 and its own: {shown}"
    );
    assert_eq!(t[&0], "/dev/null", "{shown}");
    let (o, e) = (pipe_inode(&t[&1]), pipe_inode(&t[&2]));
    assert!(o.is_some() && e.is_some() && o != e, "{shown}");
    assert!(
        t[&3].starts_with("/proc/") && t[&3].ends_with("/fd"),
        "{shown}"
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr_lossy());
}

fn ls_fds() -> Command {
    Command::new("ls")
        .args(["-ln", "/proc/self/fd/"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
}

/// `threads` threads each start `rounds` children (by `run`, by `spawn` and
/// `communicate`, by a `Group` of two) while four more threads keep opening
/// and closing files and pipes without close-on-exec. Every child lists its
/// own fds: only 0, 1, 2 (its own pipes) are there. Afterwards the fd table
/// is what it was and there is no zombie.
pub fn threads(threads: usize, rounds: usize) -> String {
    warm_up();
    let before = fd_table(None);
    let stop = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut held: VecDeque<OwnedFd> = VecDeque::new();
                let mut opened = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let f = OwnedFd::from(File::open("/dev/null").expect("open /dev/null"));
                    set_cloexec(&f, false).expect("clear FD_CLOEXEC");
                    let (r, w) = spawn_sys::pipe::pipe().expect("pipe");
                    set_cloexec(&r, false).expect("clear FD_CLOEXEC");
                    set_cloexec(&w, false).expect("clear FD_CLOEXEC");
                    held.extend([f, r, w]);
                    while held.len() > 24 {
                        held.pop_front();
                    }
                    opened += 3;
                    std::thread::yield_now();
                }
                opened
            })
        })
        .collect();
    let spawners: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut children = 0;
                for i in 0..rounds {
                    match (t + i) % 3 {
                        0 => {
                            check_listing(&ls_fds().run().expect("ls runs"));
                            children += 1;
                        }
                        1 => {
                            let mut child: Child = ls_fds().spawn().expect("ls starts");
                            check_listing(&child.communicate(b"").expect("communicate"));
                            children += 1;
                        }
                        _ => {
                            for r in Group::new()
                                .add(ls_fds())
                                .add(ls_fds())
                                .run()
                                .expect("group")
                            {
                                check_listing(&r.expect("ls runs"));
                                children += 1;
                            }
                        }
                    }
                }
                children
            })
        })
        .collect();
    let mut children = 0;
    let mut panicked = None;
    for s in spawners {
        match s.join() {
            Ok(n) => children += n,
            Err(p) => panicked = Some(p),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let opened: u64 = churners
        .into_iter()
        .map(|c| c.join().expect("churner"))
        .sum();
    if let Some(p) = panicked {
        std::panic::resume_unwind(p);
    }
    assert_eq!(show(&fd_table(None)), show(&before), "fds leaked");
    assert!(procfs::zombies_after_settling(Duration::from_secs(10)).is_empty());
    format!(
        "{children} children from {threads} threads saw only their own 0, 1, 2 while {opened} inheritable fds came and went"
    )
}

/// The fds of a running child, and the child (killed and reaped when
/// dropped).
fn child_fds(cmd: Command) -> (BTreeMap<i32, String>, Child) {
    let child = cmd
        .arg("30")
        .kill_on_drop(true)
        .spawn()
        .expect("sleep starts");
    // posix_spawn returns once the child has executed the program, but its
    // dynamic loader may still hold a library open: the fd table is final
    // once `sleep` sleeps.
    let wchan = format!("/proc/{}/wchan", child.pid());
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("nanosleep")) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "sleep never slept"
        );
        std::thread::yield_now();
    }
    (fd_table(Some(child.pid())), child)
}

fn finish(child: &Child) {
    child.kill().expect("kill");
    assert_eq!(child.wait().expect("wait").signal(), Some(9));
}

/// Started with fds 0, 1, 2 closed (by `sh -c 'exec 0<&- 1>&- 2>&-; exec …'`).
/// Rust's runtime opens `/dev/null` on closed standard fds before `main`, so
/// that is what a Rust parent has; its children get what was asked.
pub fn stdio_closed() -> String {
    let mine = fd_table(None);
    for fd in 0..3 {
        assert_eq!(
            mine.get(&fd).map(String::as_str),
            Some("/dev/null"),
            "fd {fd}: {}",
            show(&mine)
        );
    }
    // Inherited: the parent's /dev/null.
    let (t, c) = child_fds(Command::new("sleep"));
    assert_eq!(
        t.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "{}",
        show(&t)
    );
    assert!(t.values().all(|v| v == "/dev/null"), "{}", show(&t));
    finish(&c);
    // Pipes, and stderr merged into stdout.
    let (t, c) = child_fds(
        Command::new("sleep")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::merge()),
    );
    assert_eq!(
        t.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "{}",
        show(&t)
    );
    assert!(
        pipe_inode(&t[&0]).is_some() && pipe_inode(&t[&1]).is_some(),
        "{}",
        show(&t)
    );
    assert_eq!(t[&1], t[&2], "merge: {}", show(&t));
    finish(&c);
    // Data both ways.
    let out = Command::new("sh")
        .args(["-c", "cat; echo err >&2"])
        .input("through\n")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .expect("sh runs");
    assert_eq!(out.stdout, b"through\n");
    assert_eq!(out.stderr, b"err\n");
    "fds 0, 1, 2 were /dev/null (opened by Rust's runtime); children got /dev/null, pipes and merges as asked".to_owned()
}

/// Fds 0, 1, 2 replaced by private close-on-exec pipes of this process (what
/// a daemon that closed them has after a library opened fds that landed on
/// 0, 1, 2). No child may get one of them, whatever its routes. With
/// `merge`, the case `stdout` inherited + `stderr` merged.
pub fn stdio_private(merge: bool) -> String {
    let (r0, w0) = spawn_sys::pipe::pipe().expect("pipe");
    let (r1, w1) = spawn_sys::pipe::pipe().expect("pipe");
    let (r2, w2) = spawn_sys::pipe::pipe().expect("pipe");
    let private: Vec<u64> = [&r0, &r1, &r2]
        .iter()
        .map(|fd| {
            let t = fd_table(None);
            pipe_inode(&t[&fd.as_fd().as_raw_fd()]).expect("a pipe")
        })
        .collect();
    rustix::stdio::dup2_stdin(&r0).expect("dup2 onto 0");
    rustix::stdio::dup2_stdout(&w1).expect("dup2 onto 1");
    rustix::stdio::dup2_stderr(&w2).expect("dup2 onto 2");
    set_cloexec(std::io::stdin(), true).expect("FD_CLOEXEC on 0");
    set_cloexec(std::io::stdout(), true).expect("FD_CLOEXEC on 1");
    set_cloexec(std::io::stderr(), true).expect("FD_CLOEXEC on 2");
    let _keep = (w0, r1, r2);
    let leaked = |t: &BTreeMap<i32, String>| {
        t.values()
            .filter_map(|v| pipe_inode(v))
            .any(|i| private.contains(&i))
    };
    if merge {
        let (t, c) = child_fds(
            Command::new("sleep")
                .stdin(Stdio::null())
                .stderr(Stdio::merge()),
        );
        assert!(
            !leaked(&t),
            "stdout inherited + stderr merged: the child got a private fd of the parent: {}",
            show(&t)
        );
        assert_eq!(
            t.get(&1),
            t.get(&2),
            "stderr is not where stdout is: {}",
            show(&t)
        );
        finish(&c);
        return "stdout inherited + stderr merged gave the child nothing private".to_owned();
    }
    // All inherited: the private fds are close-on-exec, the child has none.
    let (t, c) = child_fds(Command::new("sleep"));
    assert!(!leaked(&t), "inherit: {}", show(&t));
    assert!(t.is_empty(), "inherit: {}", show(&t));
    finish(&c);
    // Pipes and a merge onto a pipe.
    let (t, c) = child_fds(
        Command::new("sleep")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::merge()),
    );
    assert!(!leaked(&t), "piped + merge: {}", show(&t));
    assert_eq!(
        t.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "{}",
        show(&t)
    );
    assert_eq!(t[&0], "/dev/null");
    assert_eq!(t[&1], t[&2]);
    finish(&c);
    // stdout piped, stderr inherited: closed.
    let (t, c) = child_fds(Command::new("sleep").stdout(Stdio::piped()));
    assert!(!leaked(&t), "stderr inherited: {}", show(&t));
    assert_eq!(t.keys().copied().collect::<Vec<_>>(), [1], "{}", show(&t));
    finish(&c);
    // Data both ways.
    let out = Command::new("sh")
        .args(["-c", "cat; echo err >&2"])
        .input("through\n")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .expect("sh runs");
    assert_eq!(out.stdout, b"through\n");
    assert_eq!(out.stderr, b"err\n");
    "no private fd reached a child; inherited private fds are closed in the child; pipes work"
        .to_owned()
}
