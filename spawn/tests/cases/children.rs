//! Cases: A spawned child's communicate, and groups.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
                            .timeout(Duration::from_secs(2)) // the pid is printed well before it, also under load
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
                                    .timeout(Duration::from_secs(2)) // the pid is printed well before it, also under load
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
            name: "a_group_timeout_and_stop_signal_are_the_defaults_of_its_members",
            build: || {
                (
                    Job::Group(
                        Group::new()
                            .add(sh("sleep 30"))
                            // Its own settings win: a timeout longer than its
                            // run, HUP to stop it.
                            .add(
                                sh("trap 'exit 4' HUP; sleep 1; echo survived")
                                    .stdout(Stdio::piped())
                                    .timeout(SOON)
                                    .stop_signal(spawn::Signal::HUP),
                            )
                            .timeout(Duration::from_millis(200))
                            .stop_signal(spawn::Signal::INT),
                    ),
                    check(|got, took| {
                        let results = got.group();
                        let Err(Error::Timeout { partial, .. }) = &results[0] else {
                            panic!("expected a timeout, got {:?}", results[0])
                        };
                        // `sh -c 'sleep 30'` execs sleep, which dies of INT.
                        assert_eq!(partial.status.signal(), Some(2));
                        assert_eq!(results[1].as_ref().unwrap().stdout, b"survived\n");
                        assert!(took < SOON);
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
