//! A complete driver loop for `spawn-core`, written from the crate docs
//! alone: real `std::process` children, `poll(2)` for readiness,
//! `try_wait` (or `waitid(WNOWAIT)` for a group leader, which must stay
//! unreaped until it is finished) for exits, and every answer the core
//! expects: `Started`, `Read`/`ReadWouldBlock`/`Eof`,
//! `Wrote`/`WriteWouldBlock`/`WriteBroken`, `Exited`, `GroupEmpty`/
//! `GroupLive` for `ProbeGroup`, and `Output::Finished`.
//!
//! The loop is level-triggered: it watches exactly what the `Interest`
//! actions say. It has no pidfd, so while a child runs it polls with a
//! short timeout to notice exits.
//!
//! `cargo run -p spawn-core --example poll_loop` prints each child's output
//! and outcome, and fails if an answer kind was never needed.

use std::collections::BTreeSet;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process, kill_process_group};
use spawn_core::{
    Action, ChildSpec, Event, Output, PerStream, Scheduler, SchedulerConfig, SignalTarget, Stream,
    Timestamp, WaitReason,
};

/// What to run: a shell script, its input, and its spec for the core.
struct Job {
    script: &'static str,
    input: Vec<u8>,
    spec: ChildSpec,
}

/// A started child and the driver's ends of its pipes.
struct Kid {
    script: &'static str,
    input: Vec<u8>,
    process: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// What the core wants watched (`Interest`).
    watch: PerStream<bool>,
    /// What was read, per stream (this loop's sink: collect everything).
    got: PerStream<Vec<u8>>,
    exited: bool,
    leads: bool,
}

fn jobs() -> Vec<Job> {
    let out = ChildSpec {
        stdout: true,
        stderr: true,
        ..ChildSpec::default()
    };
    let fed = |input_len| ChildSpec {
        stdin: true,
        input_len,
        ..out
    };
    vec![
        Job {
            script: "echo out; echo err >&2",
            input: Vec::new(),
            spec: out,
        },
        // More than a pipe holds: writes would block while cat's output
        // is read back.
        Job {
            script: "cat",
            input: (0..1_000_000u32).map(|i| (i % 251) as u8).collect(),
            spec: fed(1_000_000),
        },
        // It closes its stdin at once: the write breaks, the run goes on.
        Job {
            script: "exec 0<&-; echo closed stdin; exec sleep 0.5",
            input: vec![b'x'; 100_000],
            spec: fed(100_000),
        },
        // A group leader that exits at once and leaves a member behind: with
        // a timeout, the core probes the group and stops the leftovers.
        Job {
            script: "sleep 30 >/dev/null 2>&1 & echo leader",
            input: Vec::new(),
            spec: ChildSpec {
                timeout: Some(Duration::from_secs(10)),
                signal_group: true,
                ..out
            },
        },
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let clock = || Timestamp::from_nanos(start.elapsed().as_nanos().try_into().unwrap_or(u64::MAX));
    let mut sched = Scheduler::new(SchedulerConfig { max_running: 3 });
    let mut kids = Vec::new();
    for job in jobs() {
        let id = sched.add(job.spec);
        assert_eq!(
            id.0,
            kids.len(),
            "ids are handed out in order, none removed yet"
        );
        kids.push(Kid {
            script: job.script,
            input: job.input,
            process: None,
            stdin: None,
            stdout: None,
            stderr: None,
            watch: PerStream::default(),
            got: PerStream::default(),
            exited: false,
            leads: job.spec.signal_group,
        });
    }
    let mut seen = BTreeSet::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        // 1. Poll until Wait, doing every action and answering at once.
        let deadline = loop {
            let now = clock();
            match sched.poll(now) {
                Output::Action(a) => {
                    for e in act(&mut kids, a, &mut buf)? {
                        seen.insert(name(&e));
                        sched.handle(e, clock());
                    }
                }
                Output::Finished { child, outcome } => {
                    let kid = &mut kids[child.0];
                    // Reap now (a group leader was kept as a zombie until now).
                    if let Some(mut p) = kid.process.take() {
                        p.wait()?;
                    }
                    seen.insert("Finished");
                    println!("[{}] {:?}", kid.script, outcome);
                    for s in Stream::OUTPUTS {
                        let got = &kid.got[s];
                        if got.len() > 60 {
                            println!("    {s:?}: {} bytes", got.len());
                        } else {
                            println!("    {s:?}: {:?}", String::from_utf8_lossy(got));
                        }
                    }
                    if outcome.status != Some(0)
                        || (kid.script == "cat" && kid.got.stdout != kid.input)
                    {
                        return Err(format!("{:?} went wrong: {outcome:?}", kid.script).into());
                    }
                    sched.remove(child);
                }
                Output::Wait { deadline, reason } => {
                    if reason == WaitReason::Done {
                        return report(&seen);
                    }
                    break deadline;
                }
            }
        };
        // 2. Wait for readiness, an exit (no pidfd: a short timeout while a
        //    child runs), or the deadline.
        let now = clock();
        let mut wait =
            deadline.map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now));
        if kids.iter().any(|k| k.process.is_some() && !k.exited) {
            wait = wait.min(Duration::from_millis(5));
        }
        let ready = wait_ready(&kids, wait)?;
        let now = clock();
        for (c, stream) in ready {
            let child = spawn_core::ChildId(c);
            let e = match stream {
                Stream::Stdin => Event::Writable { child },
                stream => Event::Readable { child, stream },
            };
            sched.handle(e, now);
        }
        // 3. Exits.
        for (c, kid) in kids.iter_mut().enumerate() {
            if kid.exited {
                continue;
            }
            let Some(p) = kid.process.as_mut() else {
                continue;
            };
            let status = if kid.leads {
                // Exited, not reaped: the zombie pins the pgid for the
                // group signals and probes still to come.
                let opts = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
                rustix::process::waitid(WaitId::Pid(Pid::from_child(p)), opts)?.map(|s| {
                    s.exit_status().map_or_else(
                        || s.terminating_signal().unwrap_or(0) & 0x7f,
                        |c| (c & 0xff) << 8,
                    )
                })
            } else {
                p.try_wait()?.map(ExitStatusExt::into_raw)
            };
            if let Some(status) = status {
                kid.exited = true;
                seen.insert("Exited");
                sched.handle(
                    Event::Exited {
                        child: spawn_core::ChildId(c),
                        status,
                    },
                    clock(),
                );
            }
        }
    }
}

/// Does one action; returns the answers it calls for.
fn act(kids: &mut [Kid], a: Action, buf: &mut [u8]) -> io::Result<Vec<Event>> {
    let mut events = Vec::new();
    match a {
        Action::Start { child } => {
            let kid = &mut kids[child.0];
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c").arg(kid.script);
            cmd.stdin(if kid.input.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            });
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            if kid.leads {
                cmd.process_group(0);
            }
            match cmd.spawn() {
                Ok(mut p) => {
                    kid.stdin = p.stdin.take();
                    kid.stdout = p.stdout.take();
                    kid.stderr = p.stderr.take();
                    for fd in [
                        fd_of(kid, Stream::Stdin),
                        fd_of(kid, Stream::Stdout),
                        fd_of(kid, Stream::Stderr),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        rustix::io::ioctl_fionbio(fd, true)?;
                    }
                    kid.process = Some(p);
                    events.push(Event::Started { child });
                }
                Err(e) => {
                    eprintln!("cannot start {:?}: {e}", kid.script);
                    events.push(Event::SpawnFailed { child });
                }
            }
        }
        Action::Read { child, stream, max } => {
            let kid = &mut kids[child.0];
            let n = max.min(buf.len());
            let r = match stream {
                Stream::Stdout => kid.stdout.as_mut().map(|f| f.read(&mut buf[..n])),
                _ => kid.stderr.as_mut().map(|f| f.read(&mut buf[..n])),
            };
            events.push(match r {
                Some(Ok(0)) | None => Event::Eof { child, stream },
                Some(Ok(n)) => {
                    kid.got[stream].extend_from_slice(&buf[..n]);
                    Event::Read { child, stream, n }
                }
                Some(Err(e)) if e.kind() == ErrorKind::WouldBlock => {
                    Event::ReadWouldBlock { child, stream }
                }
                Some(Err(e)) if e.kind() == ErrorKind::Interrupted => {
                    Event::ReadWouldBlock { child, stream }
                }
                Some(Err(_)) => Event::Eof { child, stream },
            });
        }
        Action::Write { child, offset, len } => {
            let kid = &mut kids[child.0];
            let from = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(kid.input.len());
            let to = from.saturating_add(len).min(kid.input.len());
            let r = kid.stdin.as_mut().map(|f| f.write(&kid.input[from..to]));
            events.push(match r {
                Some(Ok(n)) => Event::Wrote { child, n },
                Some(Err(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
                {
                    Event::WriteWouldBlock { child }
                }
                Some(Err(_)) | None => Event::WriteBroken { child },
            });
        }
        Action::Close { child, stream, .. } => {
            let kid = &mut kids[child.0];
            match stream {
                Stream::Stdin => drop(kid.stdin.take()),
                Stream::Stdout => drop(kid.stdout.take()),
                _ => drop(kid.stderr.take()),
            }
            kid.watch[stream] = false;
        }
        Action::Interest { child, stream, on } => kids[child.0].watch[stream] = on,
        Action::Signal {
            child,
            signal,
            target,
        } => {
            let kid = &kids[child.0];
            let Some(p) = kid.process.as_ref() else {
                return Ok(events);
            };
            let pid = Pid::from_child(p);
            let sig = match signal {
                spawn_core::KillSignal::Step(_) => Signal::TERM,
                _ => Signal::KILL,
            };
            // Errors (ESRCH: nobody left) are fine: the probes tell.
            if target != SignalTarget::Group {
                let _ = kill_process(pid, sig);
            }
            if target != SignalTarget::Child {
                let _ = kill_process_group(pid, sig);
            }
        }
        Action::ProbeGroup { child } => {
            let kid = &kids[child.0];
            let live = kid
                .process
                .as_ref()
                .is_some_and(|p| group_has_members(Pid::from_child(p).as_raw_nonzero().get()));
            events.push(if live {
                Event::GroupLive { child }
            } else {
                Event::GroupEmpty { child }
            });
        }
        _ => {}
    }
    Ok(events)
}

/// Whether a process other than the leader `pgid` is alive (not a zombie)
/// in its group. `kill(-pgid, 0)` cannot tell: the zombie leader counts.
fn group_has_members(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut f = rest.split_whitespace();
        let (state, _ppid, pgrp) = (f.next(), f.next(), f.next());
        pid != pgid && state != Some("Z") && pgrp.and_then(|p| p.parse().ok()) == Some(pgid)
    })
}

fn fd_of(kid: &Kid, s: Stream) -> Option<BorrowedFd<'_>> {
    match s {
        Stream::Stdin => kid.stdin.as_ref().map(AsFd::as_fd),
        Stream::Stdout => kid.stdout.as_ref().map(AsFd::as_fd),
        _ => kid.stderr.as_ref().map(AsFd::as_fd),
    }
}

/// `poll(2)` over the watched pipes, for at most `wait`.
fn wait_ready(kids: &[Kid], wait: Duration) -> io::Result<Vec<(usize, Stream)>> {
    let mut fds = Vec::new();
    let mut who = Vec::new();
    for (c, kid) in kids.iter().enumerate() {
        for s in Stream::ALL {
            if let (true, Some(fd)) = (kid.watch[s], fd_of(kid, s)) {
                let flags = if s == Stream::Stdin {
                    PollFlags::OUT
                } else {
                    PollFlags::IN
                };
                fds.push(PollFd::from_borrowed_fd(fd, flags));
                who.push((c, s));
            }
        }
    }
    let timeout = Timespec {
        tv_sec: wait.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: wait.subsec_nanos().into(),
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    }
    Ok(fds
        .iter()
        .zip(who)
        .filter(|(fd, _)| !fd.revents().is_empty())
        .map(|(_, w)| w)
        .collect())
}

fn name(e: &Event) -> &'static str {
    match e {
        Event::Started { .. } => "Started",
        Event::SpawnFailed { .. } => "SpawnFailed",
        Event::Read { .. } => "Read",
        Event::ReadWouldBlock { .. } => "ReadWouldBlock",
        Event::Eof { .. } => "Eof",
        Event::Wrote { .. } => "Wrote",
        Event::WriteWouldBlock { .. } => "WriteWouldBlock",
        Event::WriteBroken { .. } => "WriteBroken",
        Event::GroupEmpty { .. } => "GroupEmpty",
        Event::GroupLive { .. } => "GroupLive",
        _ => "other",
    }
}

fn report(seen: &BTreeSet<&'static str>) -> Result<(), Box<dyn std::error::Error>> {
    println!("answers given: {seen:?}");
    let wanted = [
        "Started",
        "Read",
        "ReadWouldBlock",
        "Eof",
        "Wrote",
        "WriteWouldBlock",
        "WriteBroken",
        "Exited",
        "GroupLive",
        "GroupEmpty",
        "Finished",
    ];
    let missing: Vec<_> = wanted.iter().filter(|w| !seen.contains(*w)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("answers never needed: {missing:?}").into())
    }
}
