//! Cases: run, check, check_output*: statuses, errors, input fed while output drains, the report.

use super::*;

pub(super) fn cases() -> Vec<Case> {
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
    ]
}
