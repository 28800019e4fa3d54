//! Cases: Pipelines: stages, SIGPIPE upstream, input, stderr, their group teardown and errors.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
                            .timeout(Duration::from_secs(2)) // the pid is printed well before it, also under load
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
        Case {
            name: "pipeline_cancelled_keeps_its_output",
            build: || {
                let token = CancelToken::new();
                let on_line = token.clone();
                (
                    Job::Pipeline(
                        (Command::new("sh").args(["-c", "echo a; exec sleep 3011"])
                            | Command::new("cat"))
                        .stdout(Sink::lines(move |_| on_line.cancel()))
                        .cancel_on(&token),
                    ),
                    check(|got, _| {
                        let err = got.pipeline().unwrap_err();
                        assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
                    }),
                )
            },
        },
        Case {
            name: "a_pipeline_stop_signal_is_every_stages",
            build: || {
                // Stops once both stages said `ready` (their traps are set).
                let token = CancelToken::new();
                let (on_ready, readies) = (token.clone(), Arc::new(Mutex::new(0)));
                let stage = |name: &str| {
                    sh(&format!(
                        "trap 'echo {name} got INT >&2; exit 3' INT; echo ready >&2; sleep 30 & wait"
                    ))
                    .stop_signal(spawn::Signal::HUP)
                };
                let seen = Arc::new(Mutex::new(Vec::new()));
                let kept = Arc::clone(&seen);
                (
                    Job::Pipeline(
                        (stage("first") | stage("last"))
                            .stdout(Stdio::piped())
                            .stderr(Sink::lines(move |line| {
                                if line == b"ready" {
                                    let mut n = readies.lock().unwrap();
                                    *n += 1;
                                    if *n == 2 {
                                        on_ready.cancel();
                                    }
                                } else {
                                    kept.lock().unwrap().push(line.to_vec());
                                }
                            }))
                            .stop_signal(spawn::Signal::INT)
                            .kill_grace(Duration::from_millis(300))
                            .cancel_on(&token),
                    ),
                    check(move |got, took| {
                        let err = got.pipeline().unwrap_err();
                        assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
                        let mut seen = seen.lock().unwrap().clone();
                        seen.sort();
                        assert_eq!(seen, [&b"first got INT"[..], b"last got INT"]);
                        assert!(took < SOON);
                    }),
                )
            },
        },
        Case {
            name: "a_pipeline_eof_grace_is_every_stages",
            build: || {
                // The last stage exits at once; its background job writes a
                // second later, which the stage's own 50 ms grace would miss.
                (
                    Job::Pipeline(
                        (Command::new("true")
                            | sh("echo early; (sleep 1; echo late) &")
                                .eof_grace(Duration::from_millis(50)))
                        .stdout(Stdio::piped())
                        .eof_grace(SOON),
                    ),
                    check(|got, _| {
                        assert_eq!(got.pipeline().unwrap().stdout, b"early\nlate\n");
                    }),
                )
            },
        },
    ]
}
