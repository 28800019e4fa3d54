//! Cases: Sinks: merge, bounds, files, writers, lines, the log, an overflow that stops the child.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
            name: "discarded_streams_count_every_byte_beside_kept_ones",
            build: || {
                // Several discarding children in one engine (they share its
                // /dev/null), each stderr kept.
                let cmd = || {
                    sh("head -c 3000000 /dev/zero; printf 'err %s' \"$1\" >&2")
                        .arg("x")
                        .stdout(Sink::discard())
                        .stderr(Stdio::piped())
                };
                (
                    Job::Group(Group::new().add_all((0..3).map(|_| cmd()))),
                    check(|got, _| {
                        let all = got.group();
                        assert_eq!(all.len(), 3);
                        for r in all {
                            let out = r.unwrap();
                            assert!(out.stdout.is_empty());
                            assert_eq!(out.report.stdout_bytes, 3_000_000);
                            assert_eq!(out.stderr, b"err x");
                        }
                    }),
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
    ]
}
