//! Cases: Timeouts and their group teardown, the kill grace, grandchildren holding pipes (the EOF grace), cancel.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
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
                            .timeout(Duration::from_secs(2)) // the pid is printed well before it, also under load
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
                        if spawn_sys::has_controlling_terminal() {
                            // In a terminal the child stays in our group,
                            // and what it left when it exited was
                            // reparented away from the walk of its
                            // descendants (a documented limit).
                            let _ = Command::new("kill")
                                .args(["-KILL", &member.to_string()])
                                .run();
                            return;
                        }
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
    ]
}
