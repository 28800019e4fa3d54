//! Job control (issue 32): `spawn many` at a real terminal (a tmux
//! session with a job-control shell), its jobs in process groups of their
//! own that the terminal does not reach. Ctrl-Z stops the jobs and then
//! the runner (the shell reports it stopped); `fg` continues the runner and
//! then the jobs; Ctrl-C ends them. `--tty` runs jobs on the terminal, and
//! `spawn run --pty` keeps its child's window at ours. Skipped, with a
//! message, where tmux is not installed (`cargo xtask ci` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use spawn_tests::spawn_cli;

/// A tmux server of the test's own (`-L`), so that no other session is
/// touched; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str) -> Option<Tmux> {
        let ok = Command::new("tmux")
            .args(["-V"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("skipped: tmux is not installed");
            return None;
        }
        let t = Tmux {
            socket: format!("spawn-test-{name}-{}", std::process::id()),
        };
        t.run(&[
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            "env PS1='$ ' bash --norc --noprofile",
        ]);
        Some(t)
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Waits (generously, to catch a hang) until `what` holds.
fn until(what: &str, mut f: impl FnMut() -> bool, t: &Tmux) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; screen:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The state letter of `pid` in `/proc` (`T`: stopped), if it exists.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

fn read_pid(p: &Path) -> Option<u32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
}

#[test]
fn ctrl_z_stops_the_jobs_then_the_runner_and_fg_continues_them() {
    stop_and_continue("jc", Parent::Shell);
}

/// The runner's parent is a script (`sh run.sh`, which runs more after it) in the runner's
/// own process group, the job the shell stopped: that group is not
/// orphaned (the script's parent, the shell, is in another group of the
/// session), so Ctrl-Z stops the jobs and the runner as above. The runner
/// took its group for orphaned (its parent is not in another group) and
/// dropped the TSTP: the script stopped, the runner and its jobs ran on.
#[test]
fn ctrl_z_stops_the_jobs_of_a_runner_started_by_a_script() {
    stop_and_continue("jcsh", Parent::Script);
}

/// Who starts the runner.
#[derive(Clone, Copy, PartialEq)]
enum Parent {
    /// The job-control shell itself.
    Shell,
    /// A script the shell started, in the runner's group.
    Script,
}

fn stop_and_continue(name: &str, parent: Parent) {
    let Some(t) = Tmux::start(name) else { return };
    let dir = tempfile_dir().join(name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let job = |n: &str| {
        let d = dir.display();
        format!(
            "echo $$ > {d}/{n}.pid.tmp; mv {d}/{n}.pid.tmp {d}/{n}.pid; while :; do echo x >> {d}/{n}.ticks; sleep 0.05; done"
        )
    };
    let line = format!(
        "echo $$ > {d}/shell.pid; {spawn} many -j2 ::: '{a}' '{b}'",
        d = dir.display(),
        spawn = spawn_cli().display(),
        a = job("a"),
        b = job("b"),
    );
    let line = match parent {
        Parent::Shell => line,
        Parent::Script => {
            // Something runs after the runner: the script forks it.
            let script = dir.join("run.sh");
            std::fs::write(&script, format!("{line}\ntrue\n")).expect("script");
            format!("sh {}", script.display())
        }
    };
    t.keys(&[&line, "Enter"]);
    let pid_of = |n: &str| read_pid(&dir.join(format!("{n}.pid")));
    until(
        "both jobs",
        || pid_of("a").is_some() && pid_of("b").is_some(),
        &t,
    );
    let jobs = [pid_of("a").unwrap(), pid_of("b").unwrap()];
    let shell = read_pid(&dir.join("shell.pid")).expect("the shell wrote its pid");
    let runner = runner_pid(shell, &t);

    t.keys(&["C-z"]);
    until(
        "the jobs and the runner stopped",
        || jobs.iter().chain([&runner]).all(|&p| state(p) == Some('T')),
        &t,
    );
    until("the shell's report", || t.screen().contains("Stopped"), &t);

    t.keys(&["fg", "Enter"]);
    let ticks = lines(&dir.join("a.ticks"));
    until(
        "the jobs continued",
        || {
            jobs.iter().all(|&p| state(p).is_some_and(|s| s != 'T'))
                && lines(&dir.join("a.ticks")) > ticks
        },
        &t,
    );
    assert_ne!(state(runner), Some('T'), "the runner is still stopped");

    t.keys(&["C-c"]);
    until(
        "the runner gone",
        || state(runner).is_none_or(|s| s == 'Z'),
        &t,
    );
    until(
        "its report",
        || t.screen().contains("stopped by SIGINT"),
        &t,
    );
    for p in jobs {
        until("the jobs gone", || state(p).is_none_or(|s| s == 'Z'), &t);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The pid of the `spawn many` that `shell` runs: its child, from `/proc`.
fn runner_pid(shell: u32, t: &Tmux) -> u32 {
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit(')')
            .next()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let mut found = None;
    until(
        "the runner",
        || {
            found = std::fs::read_dir("/proc").ok().and_then(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                    .find(|&pid| parent(pid) == Some(shell))
            });
            found.is_some()
        },
        t,
    );
    found.unwrap()
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawn-jc-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `--tty`: the jobs run one at a time on the terminal itself, reading it
/// (in the terminal's foreground group: no SIGTTIN stops them), with no
/// progress line on it.
#[test]
fn tty_runs_the_jobs_one_at_a_time_on_the_terminal() {
    let Some(t) = Tmux::start("tty") else { return };
    let line = format!(
        "{} many --tty ::: 'read x; echo got $x' 'read y; echo got $y'; echo done $?",
        spawn_cli().display()
    );
    t.keys(&[&line, "Enter"]);
    until(
        "the command line typed",
        || t.screen().contains("echo done $?"),
        &t,
    );
    t.keys(&["one", "Enter"]);
    until(
        "the first job's answer",
        || t.screen().contains("got one"),
        &t,
    );
    t.keys(&["two", "Enter"]);
    until("the end", || t.screen().contains("done 0"), &t);
    let screen = t.screen();
    let (one, two) = (screen.find("got one"), screen.find("got two"));
    assert!(one.is_some() && one < two, "{screen}");
    // The terminal is the jobs': no progress line drawn over their prompts
    // (it was: "[0/2 done, 1 running]one").
    assert!(!screen.contains("running"), "{screen}");
}

/// `--tty` with no terminal is the runner's error (125), saying so.
#[test]
fn tty_without_a_terminal_is_refused() {
    let out = Command::new("setsid")
        .args(["-w"])
        .arg(spawn_cli())
        .args(["many", "--tty", ":::", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("setsid runs");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tty: no terminal"),
        "{out:?}"
    );
}

/// `spawn run --pty` at a terminal: the child's terminal starts at our
/// window's size, and follows it when the window changes (our SIGWINCH
/// resizes the child's pty; the kernel tells the child).
#[test]
fn run_pty_follows_the_window_size() {
    let Some(t) = Tmux::start("winch") else {
        return;
    };
    let line = format!(
        "{} run --pty -- sh -c 'trap \"stty size\" WINCH; stty size; echo ready; \
         while :; do sleep 0.05; done'",
        spawn_cli().display()
    );
    t.keys(&[&line, "Enter"]);
    until(
        "the child's first size",
        || t.screen().contains("50 200\nready"),
        &t,
    );
    t.run(&["resize-window", "-t", "0", "-x", "120", "-y", "40"]);
    until("the child's new size", || t.screen().contains("40 120"), &t);
    t.keys(&["C-c"]);
    until(
        "the prompt back",
        || t.screen().trim_end().ends_with('$'),
        &t,
    );
}

/// A run stopped by Ctrl-Z writes nothing while stopped: `fg` must resume
/// it, not end it for an idle timeout that ran out while the user had it
/// stopped. The child ticks every 0.1 s with an idle timeout of 1 s; it
/// stays stopped for over 2 s; after `fg` it must tick on.
#[test]
fn fg_resumes_a_run_stopped_longer_than_its_idle_timeout() {
    let Some(t) = Tmux::start("idle") else { return };
    let dir = tempfile_dir().join("idle");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let d = dir.display();
    let line = format!(
        "{spawn} run --idle-timeout 1 -- sh -c 'echo $$ > {d}/pid; while :; do echo x >> {d}/ticks; echo x; sleep 0.1; done' > /dev/null",
        spawn = spawn_cli().display(),
    );
    t.keys(&[&line, "Enter"]);
    until("the child", || read_pid(&dir.join("pid")).is_some(), &t);
    let child = read_pid(&dir.join("pid")).expect("pid");
    t.keys(&["C-z"]);
    until("the child stopped", || state(child) == Some('T'), &t);
    // Stopped for twice the idle timeout: a condition of the case, not a
    // wait for an event.
    let stopped = Instant::now();
    until(
        "two idle timeouts",
        || stopped.elapsed() > Duration::from_secs(2),
        &t,
    );
    let ticks = lines(&dir.join("ticks"));
    t.keys(&["fg", "Enter"]);
    until(
        "ticks after fg, or the run's end",
        || lines(&dir.join("ticks")) > ticks + 15 || t.screen().contains("no output for"),
        &t,
    );
    let screen = t.screen();
    assert!(!screen.contains("no output for"), "{screen}");
    t.keys(&["C-c"]);
    until(
        "the child gone",
        || state(child).is_none_or(|s| s == 'Z'),
        &t,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
