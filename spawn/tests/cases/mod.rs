//! The behaviour cases of the blocking API as one table, run by a blocking
//! runner and by the async runners (`tests/async_cases.rs`) alike: each case
//! builds a [`Job`] (a command, pipeline, group or spawned child, and how to
//! run it) and a check of what came back. The two drivers must agree on
//! every one: the same engine underneath, the same results.

#![allow(dead_code)]
// each test binary uses some of the helpers
// `Error` carries the child's output by contract; as in the crate.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spawn::{
    CancelToken, Command, Error, Group, Log, Output, Pipeline, PipelineOutput, Sink, Stdio,
    StreamName,
};

use crate::common::{alive, first_pid, gone_soon};

/// What to run, and through which entry point.
pub enum Job {
    /// `run` / `run_async`.
    Run(Command),
    /// `check` / `check_async`.
    Check(Command),
    /// `check_output` / `check_output_async`.
    CheckOutput(Command),
    /// `check_output_string` / `check_output_string_async`.
    CheckOutputString(Command),
    /// `Pipeline::run` / `Pipeline::run_async`.
    Pipeline(Pipeline),
    /// `Group::run` / `Group::run_async`.
    Group(Group),
    /// `spawn` + `communicate(input)` / `spawn_async` + `communicate(input)`.
    Communicate(Command, Vec<u8>),
}

/// What a job returned.
#[derive(Debug)]
pub enum Got {
    Run(Result<Output, Error>),
    Bytes(Result<Vec<u8>, Error>),
    Text(Result<String, Error>),
    Pipeline(Result<PipelineOutput, Error>),
    Group(Result<Vec<Result<Output, Error>>, Error>),
}

impl Got {
    pub fn run(self) -> Result<Output, Error> {
        match self {
            Got::Run(r) => r,
            other => panic!("expected a run, got {other:?}"),
        }
    }
    fn ok(self) -> Output {
        self.run().unwrap()
    }
    fn err(self) -> Error {
        self.run().unwrap_err()
    }
    fn bytes(self) -> Result<Vec<u8>, Error> {
        match self {
            Got::Bytes(r) => r,
            other => panic!("expected bytes, got {other:?}"),
        }
    }
    fn text(self) -> Result<String, Error> {
        match self {
            Got::Text(r) => r,
            other => panic!("expected text, got {other:?}"),
        }
    }
    fn pipeline(self) -> Result<PipelineOutput, Error> {
        match self {
            Got::Pipeline(r) => r,
            other => panic!("expected a pipeline, got {other:?}"),
        }
    }
    fn group(self) -> Vec<Result<Output, Error>> {
        match self {
            Got::Group(r) => r.unwrap(),
            other => panic!("expected a group, got {other:?}"),
        }
    }
}

/// Checks what a job returned, and how long it took.
pub type Check = Box<dyn FnOnce(Got, Duration) + Send>;

/// One row of the table.
pub struct Case {
    pub name: &'static str,
    pub build: fn() -> (Job, Check),
}

/// Runs `job` through the blocking API.
pub fn blocking(job: Job) -> Got {
    match job {
        Job::Run(c) => Got::Run(c.run()),
        Job::Check(c) => Got::Run(c.check()),
        Job::CheckOutput(c) => Got::Bytes(c.check_output()),
        Job::CheckOutputString(c) => Got::Text(c.check_output_string()),
        Job::Pipeline(p) => Got::Pipeline(p.run()),
        Job::Group(g) => Got::Group(g.run()),
        Job::Communicate(c, input) => Got::Run(c.spawn().and_then(|mut ch| ch.communicate(&input))),
    }
}

/// Runs every case of `cases` through `run` (each on its own thread or
/// task, as the runner decides) and panics naming each case that failed.
pub fn report(failed: &[(&'static str, String)]) {
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed
            .iter()
            .map(|(n, m)| format!("- {n}: {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The message of a caught panic.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

/// Runs `check` on `got`, catching its panic as the case's failure.
pub fn checked(
    case: &'static str,
    check: Check,
    got: Got,
    took: Duration,
) -> Option<(&'static str, String)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(got, took)))
        .err()
        .map(|p| (case, panic_message(&*p)))
}

/// The blocking runner: every case, each on a thread of its own.
pub fn run_blocking() {
    let failed: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = all()
            .into_iter()
            .map(|case| {
                s.spawn(move || {
                    let (job, check) = (case.build)();
                    let start = Instant::now();
                    let got = blocking(job);
                    checked(case.name, check, got, start.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    report(&failed);
}

fn sh(script: &str) -> Command {
    Command::shell(script)
}

fn check(f: impl FnOnce(Got, Duration) + Send + 'static) -> Check {
    Box::new(f)
}

/// A member of the child's group that ignores TERM, then the leader.
const MEMBER_IGNORES_TERM: &str = "(trap '' TERM; exec sleep 37) & echo $!; exec sleep 30";

/// Generous bound for runs that must end early.
const SOON: Duration = Duration::from_secs(30);

/// The table.
pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "nonzero_exit_is_not_an_error_for_run",
            build: || {
                (
                    Job::Run(sh("exit 7")),
                    check(|got, _| {
                        let out = got.ok();
                        assert_eq!(out.status.code(), Some(7));
                        assert!(!out.status.success());
                        assert!(out.stdout.is_empty(), "stdout inherited by default");
                    }),
                )
            },
        },
        Case {
            name: "check_fails_with_status_and_the_tail_of_stderr",
            build: || {
                (
                    Job::Check(sh("echo one >&2; echo two >&2; exit 3").stderr(Stdio::piped())),
                    check(|got, _| {
                        let err = got.err();
                        let msg = err.to_string();
                        match &err {
                            Error::Failed { status, output, .. } => {
                                assert_eq!(status.code(), Some(3));
                                assert_eq!(output.stderr, b"one\ntwo\n");
                            }
                            other => panic!("{other:?}"),
                        }
                        assert!(
                            msg.starts_with(
                                "sh -c 'echo one >&2; echo two >&2; exit 3': exit status 3"
                            ),
                            "{msg}"
                        );
                        assert!(msg.ends_with("one\n  two"), "{msg}");
                    }),
                )
            },
        },
        Case {
            name: "check_output_pipes_stdout",
            build: || {
                (
                    Job::CheckOutput(Command::new("printf").arg("a\\nb")),
                    check(|got, _| assert_eq!(got.bytes().unwrap(), b"a\nb")),
                )
            },
        },
        Case {
            name: "check_output_checks",
            build: || {
                (
                    Job::CheckOutput(Command::new("false")),
                    check(|got, _| assert!(matches!(got.bytes(), Err(Error::Failed { .. })))),
                )
            },
        },
        Case {
            name: "check_output_string_is_text",
            build: || {
                (
                    Job::CheckOutputString(Command::new("echo").arg("hi")),
                    check(|got, _| assert_eq!(got.text().unwrap(), "hi\n")),
                )
            },
        },
        Case {
            name: "check_output_string_of_bad_utf8_keeps_the_bytes",
            build: || {
                (
                    Job::CheckOutputString(Command::new("printf").arg("\\377ok")),
                    check(|got, _| match got.text() {
                        Err(Error::NotUtf8 {
                            valid_up_to,
                            output,
                            ..
                        }) => {
                            assert_eq!(valid_up_to, 0);
                            assert_eq!(output.stdout, b"\xffok");
                        }
                        other => panic!("{other:?}"),
                    }),
                )
            },
        },
        Case {
            name: "not_found_names_the_program_and_the_path_searched",
            build: || {
                (
                    Job::Run(Command::new("spawn-no-such-program")),
                    check(|got, _| {
                        let err = got.err();
                        assert!(
                            matches!(&err, Error::NotFound { program, .. } if program == "spawn-no-such-program")
                        );
                        let msg = err.to_string();
                        assert!(msg.contains("PATH="), "{msg}");
                        let io: std::io::Error = err.into();
                        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
                    }),
                )
            },
        },
        Case {
            name: "input_is_fed_while_output_is_drained",
            build: || {
                let input: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
                let expect = input.clone();
                (
                    Job::Run(Command::new("cat").input(input).stdout(Stdio::piped())),
                    check(move |got, _| {
                        let out = got.ok();
                        assert_eq!(out.stdout.len(), expect.len());
                        assert!(out.stdout == expect);
                        assert_eq!(out.report.stdin_bytes, expect.len() as u64);
                        assert_eq!(out.report.stdout_bytes, expect.len() as u64);
                    }),
                )
            },
        },
        Case {
            name: "child_writing_stderr_before_reading_stdin_does_not_deadlock",
            build: || {
                let script = "import sys\nsys.stderr.write('e' * (1 << 20))\nsys.stderr.flush()\ndata = sys.stdin.buffer.read()\nsys.stdout.write(str(len(data)))\n";
                (
                    Job::Check(
                        Command::new("python3")
                            .args(["-c", script])
                            .input(vec![b'x'; 1 << 20])
                            .capture_output()
                            .timeout(Duration::from_secs(60)),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert_eq!(out.stdout, b"1048576");
                        assert_eq!(out.stderr.len(), 1 << 20);
                    }),
                )
            },
        },
        Case {
            name: "a_child_that_closes_stdin_is_not_an_error",
            build: || {
                (
                    Job::Run(
                        Command::new("head")
                            .args(["-c", "10"])
                            .input(vec![b'y'; 16 << 20])
                            .stdout(Stdio::piped()),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert!(out.status.success());
                        assert_eq!(out.stdout, b"yyyyyyyyyy");
                        assert!(out.report.input_broken);
                        assert!(out.report.stdin_bytes < 16 << 20);
                    }),
                )
            },
        },
        Case {
            name: "input_with_a_non_piped_stdin_is_invalid",
            build: || {
                (
                    Job::Run(Command::new("cat").stdin(Stdio::null()).input("x")),
                    check(|got, _| {
                        let err = got.err();
                        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
                    }),
                )
            },
        },
        Case {
            name: "a_piped_stdin_without_input_reads_eof",
            build: || {
                (
                    Job::Run(
                        Command::new("cat")
                            .stdin(Stdio::piped())
                            .stdout(Stdio::piped())
                            .timeout(SOON),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert!(out.status.success());
                        assert!(out.stdout.is_empty());
                    }),
                )
            },
        },
        Case {
            name: "merge_keeps_the_order_of_both_streams",
            build: || {
                (
                    Job::Run(
                        sh("echo 1; echo 2 >&2; echo 3; echo 4 >&2")
                            .stdout(Stdio::piped())
                            .stderr(Stdio::merge()),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert_eq!(out.stdout, b"1\n2\n3\n4\n");
                        assert!(out.stderr.is_empty());
                    }),
                )
            },
        },
        Case {
            name: "merge_into_a_sink",
            build: || {
                (
                    Job::Run(
                        sh("echo a; echo b >&2")
                            .stdout(Sink::collect_limit(100))
                            .stderr(Stdio::merge()),
                    ),
                    check(|got, _| assert_eq!(got.ok().stdout, b"a\nb\n")),
                )
            },
        },
        Case {
            name: "collect_limit_truncates_and_counts",
            build: || {
                (
                    Job::Run(
                        Command::new("seq")
                            .arg("1000")
                            .stdout(Sink::collect_limit(10)),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert_eq!(out.stdout, b"1\n2\n3\n4\n5\n");
                        assert_eq!(out.report.stdout_bytes, 3893);
                        assert_eq!(out.report.stdout_dropped, 3883);
                    }),
                )
            },
        },
        Case {
            name: "head_tail_keeps_both_ends",
            build: || {
                (
                    Job::Run(
                        Command::new("seq")
                            .arg("100000")
                            .stdout(Sink::head_tail(4, 7)),
                    ),
                    check(|got, _| assert_eq!(got.ok().stdout, b"1\n2\n100000\n")),
                )
            },
        },
        Case {
            name: "discard_counts",
            build: || {
                (
                    Job::Run(
                        Command::new("head")
                            .args(["-c", "1000000", "/dev/zero"])
                            .stdout(Sink::discard()),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert!(out.stdout.is_empty());
                        assert_eq!(out.report.stdout_bytes, 1_000_000);
                    }),
                )
            },
        },
        Case {
            name: "file_sink_and_file_stdio",
            build: || {
                let tmp = tempfile::tempdir().unwrap();
                let path = tmp.path().join("f");
                (
                    Job::Check(
                        sh("echo filed; echo more >&2")
                            .stdout(Sink::file(&path))
                            .stderr(Sink::file(&path)),
                    ),
                    check(move |got, _| {
                        got.ok();
                        let text = std::fs::read_to_string(&path).unwrap();
                        let mut lines: Vec<&str> = text.lines().collect();
                        lines.sort_unstable();
                        assert_eq!(lines, ["filed", "more"]);
                        drop(tmp);
                    }),
                )
            },
        },
        Case {
            name: "tee_writer_and_lines",
            build: || {
                let lines = Arc::new(Mutex::new(Vec::new()));
                let l2 = Arc::clone(&lines);
                let written = Arc::new(Mutex::new(Vec::<u8>::new()));
                let w = Shared(Arc::clone(&written));
                (
                    Job::Run(
                        sh("printf 'x\\ny\\nz'")
                            .stdout(Sink::tee(Sink::collect(), Sink::writer(w)))
                            .stderr(Sink::lines(move |l| {
                                l2.lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(l).into_owned());
                            }))
                            .env("X", "1"),
                    ),
                    check(move |got, _| {
                        assert_eq!(got.ok().stdout, b"x\ny\nz");
                        assert_eq!(*written.lock().unwrap(), b"x\ny\nz");
                        assert!(lines.lock().unwrap().is_empty());
                    }),
                )
            },
        },
        Case {
            name: "lines_sink_gets_each_line",
            build: || {
                let lines = Arc::new(Mutex::new(Vec::new()));
                let l2 = Arc::clone(&lines);
                (
                    Job::Check(sh("printf 'x\\ny\\nz'").stdout(Sink::lines(move |l| {
                        l2.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(l).into_owned());
                    }))),
                    check(move |got, _| {
                        got.ok();
                        assert_eq!(*lines.lock().unwrap(), ["x", "y", "z"]);
                    }),
                )
            },
        },
        Case {
            name: "the_log_tags_each_chunk_with_its_stream",
            build: || {
                let log = Log::new();
                (
                    Job::Check(
                        sh("echo out; echo err >&2")
                            .stdout(Sink::log(&log))
                            .stderr(Sink::log(&log)),
                    ),
                    check(move |got, _| {
                        got.ok();
                        let mut chunks = log.take();
                        chunks.sort_by_key(|c| c.stream == StreamName::Stderr);
                        assert_eq!(chunks.len(), 2);
                        assert_eq!(
                            (chunks[0].stream, chunks[0].data.as_slice()),
                            (StreamName::Stdout, &b"out\n"[..])
                        );
                        assert_eq!(
                            (chunks[1].stream, chunks[1].data.as_slice()),
                            (StreamName::Stderr, &b"err\n"[..])
                        );
                    }),
                )
            },
        },
        Case {
            name: "collect_limit_can_stop_the_child_with_an_error",
            build: || {
                (
                    Job::Run(
                        Command::new("yes").stdout(Sink::collect_limit(1000).error_on_overflow()),
                    ),
                    check(|got, took| {
                        match got.err() {
                            Error::OutputLimit {
                                stream,
                                limit,
                                partial,
                                ..
                            } => {
                                assert_eq!(stream, StreamName::Stdout);
                                assert_eq!(limit, 1000);
                                assert_eq!(partial.stdout.len(), 1000);
                                assert!(partial.stdout.starts_with(b"y\ny\n"));
                                assert_eq!(partial.status.signal(), Some(15));
                            }
                            other => panic!("{other:?}"),
                        }
                        assert!(took < SOON);
                    }),
                )
            },
        },
        Case {
            name: "timeout_returns_the_partial_output",
            build: || {
                (
                    Job::Run(
                        sh("echo partial; exec sleep 60")
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_millis(300)),
                    ),
                    check(|got, took| {
                        let err = got.err();
                        match &err {
                            Error::Timeout { partial, .. } => {
                                assert_eq!(partial.stdout, b"partial\n");
                                assert_eq!(partial.status.signal(), Some(15));
                                assert!(partial.report.timed_out);
                            }
                            other => panic!("{other:?}"),
                        }
                        assert!(took >= Duration::from_millis(300), "{took:?}");
                        assert!(took < SOON, "{took:?}");
                        assert_eq!(
                            std::io::Error::from(err).kind(),
                            std::io::ErrorKind::TimedOut
                        );
                    }),
                )
            },
        },
        Case {
            name: "timeout_stops_the_whole_process_group",
            build: || {
                (
                    Job::Run(
                        sh("sleep 60 & echo $!; wait")
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_millis(300)),
                    ),
                    check(|got, _| {
                        let partial = got.err().into_output().unwrap();
                        let pid = first_pid(&partial.stdout);
                        assert!(gone_soon(pid), "grandchild {pid} survived the timeout");
                    }),
                )
            },
        },
        Case {
            name: "a_timeout_kills_a_group_member_that_ignores_term",
            build: || {
                (
                    Job::Run(
                        sh(MEMBER_IGNORES_TERM)
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_millis(300))
                            .kill_grace(Duration::from_millis(200)),
                    ),
                    check(|got, took| {
                        let Error::Timeout { partial, .. } = got.err() else {
                            panic!("expected a timeout")
                        };
                        let member = first_pid(&partial.stdout);
                        assert!(!alive(member), "the member {member} outlived the timeout");
                        assert!(took < SOON);
                    }),
                )
            },
        },
        Case {
            name: "a_child_ignoring_term_is_killed_after_the_grace",
            build: || {
                (
                    Job::Run(
                        // The shell ignores TERM before anything else (a slow
                        // interpreter's start could see TERM first under load).
                        sh("trap '' TERM; echo ready; exec sleep 60")
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_millis(500))
                            .kill_grace(Duration::from_millis(200)),
                    ),
                    check(|got, _| {
                        let partial = got.err().into_output().unwrap();
                        assert_eq!(partial.stdout, b"ready\n");
                        assert_eq!(partial.status.signal(), Some(9));
                    }),
                )
            },
        },
        Case {
            name: "a_leader_that_exits_first_does_not_leave_its_member_behind_a_timeout",
            build: || {
                (
                    Job::Run(
                        sh("(trap '' TERM; exec sleep 37) & echo $!")
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_secs(60))
                            .kill_grace(Duration::from_millis(200))
                            .eof_grace(Duration::from_millis(100)),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert!(out.status.success());
                        let member = first_pid(&out.stdout);
                        assert!(!alive(member), "the member {member} outlived its run");
                        assert!(out.report.wall < SOON);
                    }),
                )
            },
        },
        Case {
            name: "a_grandchild_holding_stdout_does_not_hang_the_caller",
            build: || {
                (
                    Job::Run(
                        sh("sleep 60 & echo $!")
                            .stdout(Stdio::piped())
                            .eof_grace(Duration::from_millis(100)),
                    ),
                    check(|got, took| {
                        let out = got.ok();
                        assert!(out.status.success());
                        assert!(out.report.stdout_abandoned);
                        assert!(took < SOON);
                        let pid = first_pid(&out.stdout);
                        // Clean up the orphan.
                        let _ = Command::new("kill").arg(pid.to_string()).run();
                    }),
                )
            },
        },
        Case {
            name: "a_cancelled_token_starts_nothing",
            build: || {
                let token = CancelToken::new();
                token.cancel();
                (
                    Job::Run(
                        Command::new("echo")
                            .arg("never")
                            .stdout(Stdio::piped())
                            .cancel_on(&token),
                    ),
                    check(|got, _| assert!(matches!(got.err(), Error::Cancelled { .. }))),
                )
            },
        },
        Case {
            name: "report_has_rusage_and_timings",
            build: || {
                (
                    Job::Run(
                        Command::new("python3")
                            .args(["-c", "x = bytearray(64 << 20)\nsum(range(2000000))"]),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert!(out.report.max_rss_bytes >= 64 << 20, "{:?}", out.report);
                        assert!(out.report.user_time + out.report.system_time > Duration::ZERO);
                        assert!(out.report.wall >= out.report.spawn_time);
                        assert!(out.report.pid > 0);
                    }),
                )
            },
        },
        // Pipelines.
        Case {
            name: "pipeline_connects_stages",
            build: || {
                (
                    Job::Pipeline(
                        (Command::new("printf").arg("a:1\nb:2\nc:3\n")
                            | Command::new("grep").arg("-v").arg("b")
                            | Command::new("cut").args(["-d:", "-f2"]))
                        .stdout(Stdio::piped()),
                    ),
                    check(|got, _| {
                        let out = got.pipeline().unwrap();
                        assert_eq!(out.stdout, b"1\n3\n");
                        assert_eq!(out.statuses.len(), 3);
                        assert!(out.statuses.iter().all(spawn::ExitStatus::success));
                    }),
                )
            },
        },
        Case {
            name: "pipeline_sigpipe_upstream_is_a_status",
            build: || {
                (
                    Job::Pipeline(
                        (Command::new("yes") | Command::new("head").args(["-n", "2"]))
                            .stdout(Stdio::piped()),
                    ),
                    check(|got, _| {
                        let out = got.pipeline().unwrap();
                        assert_eq!(out.stdout, b"y\ny\n");
                        assert_eq!(out.statuses[0].signal(), Some(13));
                        assert!(out.success());
                    }),
                )
            },
        },
        Case {
            name: "pipeline_input_and_stderr",
            build: || {
                (
                    Job::Pipeline(
                        (Command::new("sort") | Command::shell("cat; echo note >&2"))
                            .input("b\na\n")
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped()),
                    ),
                    check(|got, _| {
                        let out = got.pipeline().unwrap();
                        assert_eq!(out.stdout, b"a\nb\n");
                        assert_eq!(out.stderr, b"note\n");
                    }),
                )
            },
        },
        Case {
            name: "a_pipeline_timeout_reaches_the_children_of_its_stages",
            build: || {
                (
                    Job::Pipeline(
                        (Command::shell("sleep 100 & echo $!; wait") | Command::new("cat"))
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_millis(300))
                            .kill_grace(Duration::from_millis(200)),
                    ),
                    check(|got, took| {
                        let Err(Error::Timeout { partial, .. }) = got.pipeline() else {
                            panic!("expected a timeout")
                        };
                        let sleeper = first_pid(&partial.stdout);
                        assert!(
                            !alive(sleeper),
                            "the stage's child {sleeper} outlived the timeout"
                        );
                        assert!(took < SOON);
                    }),
                )
            },
        },
        Case {
            name: "a_pipeline_stage_not_found_names_it",
            build: || {
                (
                    Job::Pipeline(Command::new("echo") | Command::new("spawn-absent-stage")),
                    check(|got, _| {
                        let err = got.pipeline().unwrap_err();
                        assert!(
                            matches!(err, Error::NotFound { ref program, .. } if program == "spawn-absent-stage"),
                            "{err}"
                        );
                    }),
                )
            },
        },
        Case {
            name: "an_overflowing_pipeline_sink_is_the_same_error_as_for_a_command",
            build: || {
                (
                    Job::Pipeline(
                        (Command::new("seq").arg("100000") | Command::new("cat"))
                            .stdout(Sink::collect_limit(10).error_on_overflow()),
                    ),
                    check(|got, _| {
                        let err = got.pipeline().unwrap_err();
                        assert!(matches!(err, Error::OutputLimit { .. }), "{err}");
                    }),
                )
            },
        },
        Case {
            name: "a_merged_pipeline_stderr_goes_to_its_final_stdout",
            build: || {
                (
                    Job::Pipeline(
                        (Command::shell("echo one; echo err1 >&2")
                            | Command::shell("grep -c .; echo err2 >&2"))
                        .stdout(Stdio::piped())
                        .stderr(Stdio::merge()),
                    ),
                    check(|got, _| {
                        let out = got.pipeline().unwrap();
                        let text = String::from_utf8(out.stdout).unwrap();
                        let mut lines: Vec<&str> = text.lines().collect();
                        lines.sort_unstable();
                        assert_eq!(lines, ["1", "err1", "err2"], "{text:?}");
                    }),
                )
            },
        },
        Case {
            name: "a_first_stage_input_is_fed",
            build: || {
                (
                    Job::Pipeline(
                        (Command::new("cat").input("fed\n") | Command::new("cat"))
                            .stdout(Stdio::piped()),
                    ),
                    check(|got, _| assert_eq!(got.pipeline().unwrap().stdout, b"fed\n")),
                )
            },
        },
        // A spawned child's communicate.
        Case {
            name: "communicate_feeds_and_drains",
            build: || {
                (
                    Job::Communicate(
                        Command::new("sh")
                            .args(["-c", "cat; echo done >&2"])
                            .stdin(Stdio::piped())
                            .capture_output(),
                        vec![b'z'; 3 << 20],
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert_eq!(out.stdout.len(), 3 << 20);
                        assert_eq!(out.stderr, b"done\n");
                        assert!(out.status.success());
                    }),
                )
            },
        },
        Case {
            name: "communicate_feeds_the_commands_own_input_into_a_sink",
            build: || {
                (
                    Job::Communicate(
                        Command::new("tr")
                            .args(["a-z", "A-Z"])
                            .input("hello")
                            .stdout(Sink::head_tail(2, 2)),
                        Vec::new(),
                    ),
                    check(|got, _| {
                        let out = got.ok();
                        assert_eq!(out.stdout, b"HELO");
                        assert_eq!(out.report.stdout_bytes, 5);
                    }),
                )
            },
        },
        Case {
            name: "communicate_enforces_the_commands_timeout_on_the_group",
            build: || {
                (
                    Job::Communicate(
                        sh(MEMBER_IGNORES_TERM)
                            .stdout(Stdio::piped())
                            .timeout(Duration::from_millis(300))
                            .kill_grace(Duration::from_millis(200)),
                        Vec::new(),
                    ),
                    check(|got, took| {
                        let Error::Timeout { partial, .. } = got.err() else {
                            panic!("expected a timeout")
                        };
                        let member = first_pid(&partial.stdout);
                        assert!(
                            gone_soon(member),
                            "the member {member} outlived the timeout"
                        );
                        assert!(took < SOON);
                    }),
                )
            },
        },
        Case {
            name: "communicate_with_input_but_no_stdin_pipe_is_invalid",
            build: || {
                (
                    Job::Communicate(Command::new("sleep").arg("0.2"), b"x".to_vec()),
                    check(|got, _| assert!(matches!(got.err(), Error::InvalidInput { .. }))),
                )
            },
        },
        // Groups.
        Case {
            name: "group_results_come_in_order_and_failures_stay_in_place",
            build: || {
                let mut cmds: Vec<Command> = (0..50)
                    .map(|i| Command::shell(format!("echo {i}")).stdout(Stdio::piped()))
                    .collect();
                cmds[10] = Command::new("spawn-not-here");
                cmds[20] = Command::shell("exit 4");
                (
                    Job::Group(Group::new().max_running(7).add_all(cmds)),
                    check(|got, _| {
                        let results = got.group();
                        assert_eq!(results.len(), 50);
                        for (i, r) in results.iter().enumerate() {
                            match i {
                                10 => assert!(matches!(r, Err(Error::NotFound { .. }))),
                                20 => assert_eq!(r.as_ref().unwrap().status.code(), Some(4)),
                                _ => assert_eq!(
                                    r.as_ref().unwrap().stdout,
                                    format!("{i}\n").as_bytes()
                                ),
                            }
                        }
                    }),
                )
            },
        },
        Case {
            name: "a_timeout_in_a_group_kills_a_member_that_ignores_term",
            build: || {
                (
                    Job::Group(
                        Group::new()
                            .add(
                                sh(MEMBER_IGNORES_TERM)
                                    .stdout(Stdio::piped())
                                    .timeout(Duration::from_millis(300))
                                    .kill_grace(Duration::from_millis(200)),
                            )
                            .add(Command::new("echo").arg("fine").stdout(Stdio::piped())),
                    ),
                    check(|got, _| {
                        let results = got.group();
                        let Err(Error::Timeout { partial, .. }) = &results[0] else {
                            panic!("expected a timeout, got {:?}", results[0])
                        };
                        let member = first_pid(&partial.stdout);
                        assert!(!alive(member), "the member {member} outlived the timeout");
                        assert_eq!(results[1].as_ref().unwrap().stdout, b"fine\n");
                    }),
                )
            },
        },
        Case {
            name: "group_input_and_sinks_per_child",
            build: || {
                (
                    Job::Group(Group::new().max_running(3).add_all((0..12).map(|i| {
                        Command::new("cat")
                            .input(vec![b'a' + i as u8; 300_000])
                            .stdout(Sink::head_tail(1, 1))
                    }))),
                    check(|got, _| {
                        for (i, r) in got.group().into_iter().enumerate() {
                            let out = r.unwrap();
                            let c = b'a' + i as u8;
                            assert_eq!(out.stdout, [c, c]);
                            assert_eq!(out.report.stdout_bytes, 300_000);
                        }
                    }),
                )
            },
        },
    ]
}

/// A writer shared with the check.
#[derive(Clone)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
