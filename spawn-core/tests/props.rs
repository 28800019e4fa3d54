//! Properties of the scheduler, checked against the simulated kernel with
//! random child programs, pipe sizes, partial reads and writes, readiness
//! orders, edge- and level-triggered drivers, sinks that fill up, spawn
//! failures and terminate requests.
//!
//! Each property is in a test's name; the simulation itself checks the
//! promises that hold at every step (see `spawn_core::sim`), and `check`
//! below adds the end-to-end ones. `PROPTEST_CASES=2000 cargo test -p
//! spawn-core --release` runs them hard; the default count keeps CI quick
//! (fewer cases in debug builds).

use std::time::Duration;

use proptest::prelude::*;
use spawn_core::sim::{Gc, Op, Report, Sim, SimChild, SimConfig, input_byte, pattern};
use spawn_core::{ChildId, ChildSpec, KillSignal};

fn config(debug_cases: u32) -> ProptestConfig {
    let default = if cfg!(debug_assertions) {
        debug_cases
    } else {
        256
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Steps of a program that ends on its own.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..20_000).prop_map(Op::Read),
        6 => (any::<bool>(), 1usize..30_000).prop_map(|(e, n)| Op::Write(e, n)),
        1 => Just(Op::CloseStdin),
        1 => any::<bool>().prop_map(Op::CloseOut),
        1 => (1u64..50_000_000).prop_map(Op::Sleep),
        1 => (1u64..300_000_000).prop_map(|t| Op::Grandchild(Some(t))),
        1 => gc().prop_map(Op::Fork),
        1 => Just(Op::IgnoreTerm),
    ]
}

/// A grandchild: lives a while or until killed, holds the pipes or not,
/// takes TERM or not, is stuck (ignores KILL) now and then, leaves the
/// process group now and then, forks fast enough to escape a KILL or two
/// now and then.
fn gc() -> impl Strategy<Value = Gc> {
    (
        prop::option::weighted(0.7, 1u64..400_000_000),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.15),
        prop_oneof![3 => Just(0u8), 1 => 1u8..4],
    )
        .prop_map(
            |(life, hold_pipes, ignore_term, stuck, leave_group, escapes)| Gc {
                life,
                hold_pipes,
                ignore_term,
                stuck,
                leave_group,
                escapes,
            },
        )
}

/// Programs that play with process groups: forks of every kind, leaving
/// the group, ignoring TERM, sleeping, writing.
fn group_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => gc().prop_map(Op::Fork),
        1 => Just(Op::LeaveGroup),
        2 => Just(Op::IgnoreTerm),
        2 => (1u64..50_000_000).prop_map(Op::Sleep),
        2 => (any::<bool>(), 1usize..10_000).prop_map(|(e, n)| Op::Write(e, n)),
        1 => any::<bool>().prop_map(Op::CloseOut),
    ]
}

/// Children `i > 0` picked by `picks` join the group of an earlier leader
/// (pipeline stages), and do not lead one of their own.
fn with_members(
    mut children: Vec<SimChild>,
    picks: &[(bool, prop::sample::Index)],
) -> Vec<SimChild> {
    for i in 1..children.len() {
        let (join, which) = &picks[i % picks.len()];
        let leaders: Vec<usize> = (0..i).filter(|&j| children[j].spec.signal_group).collect();
        if *join && !leaders.is_empty() && !children[i].spec.signal_group {
            children[i].spec.member_of = Some(ChildId(leaders[which.index(leaders.len())]));
            // A member's idle stop is its leader's (not modelled).
            children[i].spec.idle_timeout = None;
        }
    }
    children
}

/// How a program ends.
fn ending() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        3 => Just(vec![]),
        1 => (0i32..4).prop_map(|c| vec![Op::Exit(c)]),
        1 => Just(vec![Op::Die(9)]),
        // Only with a timeout or a terminate (see `child`).
        1 => Just(vec![Op::Hang]),
        1 => Just(vec![Op::Grandchild(None)]),
    ]
}

fn child() -> impl Strategy<Value = SimChild> {
    (
        (prop::collection::vec(op(), 0..12), ending()),
        any::<(bool, bool, bool)>(),
        0u64..100_000,
        prop::option::of(0u64..2_000_000_000),
        prop::option::of(1usize..100_000),
        (1u32..6, 1usize..70_000, 1usize..70_000),
        (any::<bool>(), 0u64..200_000_000, 0u64..100_000_000),
        (
            prop::option::weighted(0.15, 0u64..3_000_000_000),
            prop::bool::weighted(0.05),
            // A declared stop sequence (none: the two-step case).
            prop::collection::vec(0u64..100_000_000, 0..=3),
            // An idle timeout (children that are no group's member).
            prop::option::weighted(0.2, 1u64..50_000_000),
        ),
    )
        .prop_map(
            |(
                (mut program, end),
                (stdin, stdout, stderr),
                input,
                timeout,
                sink,
                (budget, rc, wc),
                (group, kill_grace, eof_grace),
                (terminate_at, spawn_fails, steps, idle),
            )| {
                let hangs = matches!(end.as_slice(), [Op::Hang]);
                program.extend(end);
                // A child that never ends by itself always gets stopped.
                let timeout = match (hangs, timeout, terminate_at) {
                    (true, None, None) => Some(1_000_000_000),
                    (_, t, _) => t,
                };
                SimChild {
                    spec: ChildSpec {
                        stdin,
                        input_len: if stdin { input } else { 0 },
                        stdout,
                        stderr,
                        timeout: timeout.map(Duration::from_nanos),
                        idle_timeout: idle.map(Duration::from_nanos),
                        kill_grace: Duration::from_nanos(kill_grace),
                        stop_graces: spawn_core::StopGraces::new(
                            &steps
                                .into_iter()
                                .map(Duration::from_nanos)
                                .collect::<Vec<_>>(),
                        )
                        .expect("at most 3 steps"),
                        eof_grace: Duration::from_nanos(eof_grace),
                        signal_group: group,
                        member_of: None,
                        end_leftovers: false,
                        read_chunk: rc,
                        read_budget: budget,
                        write_chunk: wc,
                    },
                    program,
                    sink_limit: sink,
                    spawn_fails,
                    start_deferrals: 0,
                    terminate_at,
                }
            },
        )
}

fn sim_config() -> impl Strategy<Value = SimConfig> {
    (
        1usize..70_000,
        any::<u64>(),
        0usize..5,
        any::<bool>(),
        prop::bool::weighted(0.8),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(
            |(
                cap,
                seed,
                max,
                level_triggered,
                partial_io,
                (fast_writers, async_answers, pauses),
            )| {
                SimConfig {
                    pipe_capacity: cap,
                    seed,
                    max_running: max,
                    max_steps: 5_000_000,
                    level_triggered,
                    partial_io,
                    keep_bytes: true,
                    fast_writers,
                    async_answers,
                    pauses,
                }
            },
        )
}

/// The end-to-end promises, on top of those the simulation checks itself.
fn check(children: &[SimChild], cfg: &SimConfig, r: &Report) -> Result<(), TestCaseError> {
    prop_assert!(r.violations.is_empty(), "{:#?}", r.violations);
    prop_assert!(!r.livelock, "livelock: {} steps", r.steps);
    prop_assert!(!r.quiescent, "stalled with nothing to wait for");
    prop_assert!(r.finished_all, "not finished after {} steps", r.steps);
    if cfg.max_running > 0 {
        prop_assert!(r.max_running_seen <= cfg.max_running);
    }
    prop_assert_eq!(r.max_sink_overshoot, 0, "a sink held more than its limit");
    for (c, ch) in children.iter().enumerate() {
        // Results per ChildId.
        let o = r.outcomes[c].as_ref().expect("finished");
        if o.spawn_failed {
            prop_assert!(ch.spawn_fails || ch.start_deferrals > 0);
        } else if o.started_at.is_none() {
            // Terminated while queued: never started.
            prop_assert!(o.terminated && o.status.is_none() && ch.terminate_at.is_some());
        } else {
            prop_assert!(!ch.spawn_fails);
        }
        // Every byte, in order, per stream.
        for (i, held) in [ch.spec.stdout, ch.spec.stderr].into_iter().enumerate() {
            let received = r.received[c][i];
            if !held {
                prop_assert_eq!(received, 0);
                continue;
            }
            if cfg.keep_bytes {
                let got = &r.sinks[c][i];
                prop_assert_eq!(got.len() as u64, received);
                for (k, &b) in got.iter().enumerate() {
                    prop_assert_eq!(
                        b,
                        pattern(c, i == 1, k as u64),
                        "child {} stream {} byte {}",
                        c,
                        i,
                        k
                    );
                }
            }
            // Abandoned or not, nothing the child wrote is lost (the
            // simulated grandchild holds pipes but writes nothing).
            prop_assert_eq!(
                received,
                r.written[c][i],
                "child {} stream {} lost bytes",
                c,
                i
            );
            prop_assert_eq!([o.stdout_bytes, o.stderr_bytes][i], received);
            if let Some(l) = ch.sink_limit {
                prop_assert!(r.sink_peak[c][i] <= l as u64);
            }
        }
        // Input: a prefix, in order; all of it unless the child stopped
        // taking it.
        let read = &r.input_read[c];
        for (k, &b) in read.iter().enumerate() {
            prop_assert_eq!(b, input_byte(c, k as u64));
        }
        prop_assert!(o.input_written >= read.len() as u64);
        prop_assert!(o.input_written <= ch.spec.input_len);
        if !o.input_broken && !ch.spawn_fails && o.started_at.is_some() {
            prop_assert_eq!(
                o.input_written,
                ch.spec.input_len,
                "child {} input cut short",
                c
            );
        }
        // Signals: the steps of the stop sequence in order, each at most
        // once, then KILL (a leader: KILL again while its group lives),
        // only with a cause.
        let sigs = &r.signals[c];
        let steps = ch.spec.stop_graces.as_slice().len().max(1);
        prop_assert!(sigs.len() <= steps + 1 || ch.spec.signal_group);
        if ch.spec.timeout.is_none() && ch.terminate_at.is_none() && ch.spec.idle_timeout.is_none()
        {
            prop_assert!(sigs.is_empty(), "signals without a cause: {:?}", sigs);
        }
        let sent_steps = sigs
            .iter()
            .take_while(|&&(_, s)| matches!(s, KillSignal::Step(_)))
            .count();
        for (k, &(_, s)) in sigs.iter().take(sent_steps).enumerate() {
            prop_assert_eq!(s, KillSignal::Step(k as u8));
        }
        prop_assert!(sent_steps <= steps);
        prop_assert!(
            sigs.iter()
                .skip(sent_steps)
                .all(|&(_, s)| s == KillSignal::Kill)
        );
        if sent_steps < sigs.len() {
            prop_assert!(sent_steps == steps, "KILL before the last step: {:?}", sigs);
        }
        // A bounded leader leaves nothing KILL could end.
        let bounded = ch.spec.timeout.is_some() || o.terminated;
        if let Some((live, stuck)) = r.group_at_finish[c]
            && bounded
        {
            prop_assert_eq!(live, stuck, "child {} left its group alive", c);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// One child: no stall, every byte in order, all input unless refused,
    /// sinks within their limits, TERM/KILL/EOF grace at the exact times.
    #[test]
    fn one_child_keeps_every_promise(ch in child(), cfg in sim_config()) {
        let children = vec![ch];
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
    }

    /// Many children under a running limit: the same promises for each,
    /// results per ChildId, the limit never exceeded.
    #[test]
    fn many_children_keep_every_promise_within_the_running_limit(
        children in prop::collection::vec(child(), 1..12),
        picks in prop::collection::vec((prop::bool::weighted(0.3), any::<prop::sample::Index>()), 1..12),
        cfg in sim_config(),
    ) {
        let children = with_members(children, &picks);
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
    }

    /// Starts deferred for want of fds (`StartDeferred`): each such child
    /// goes back to the front of the queue, nothing starts until a running
    /// child finished, then it starts again; it fails only when a deferral
    /// came with no other child running. Every other promise holds, the
    /// running limit too.
    #[test]
    fn deferred_starts_wait_for_a_running_child_to_finish(
        children in prop::collection::vec((child(), 0u8..4), 1..12),
        picks in prop::collection::vec((prop::bool::weighted(0.3), any::<prop::sample::Index>()), 1..12),
        cfg in sim_config(),
    ) {
        let children: Vec<SimChild> = children
            .into_iter()
            .map(|(ch, d)| SimChild { start_deferrals: d, ..ch })
            .collect();
        let children = with_members(children, &picks);
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
        // A child deferred and then run got every byte like any other.
        for (c, ch) in children.iter().enumerate() {
            let o = r.outcomes[c].as_ref().expect("finished");
            if ch.start_deferrals > 0 && !o.spawn_failed && !ch.spawn_fails {
                prop_assert!(o.started_at.is_some() || o.terminated);
            }
        }
    }

    /// Process groups under a timeout or a terminate: whatever the leader
    /// and its members and grandchildren do (ignore TERM, exit first with
    /// the pipes held, leave the group, get stuck), at the finish the group
    /// is empty, or `Left` with only processes that ignore KILL in it; no
    /// signal reaches a child after its exit, nor a group after the finish;
    /// a leader finishes only after its members exited; a member that
    /// ignores TERM is killed after the grace even when the leader died of
    /// TERM.
    #[test]
    fn a_bounded_group_teardown_ends_everything_it_can(
        leaders in prop::collection::vec(
            (
                prop::collection::vec(group_op(), 0..6),
                prop::option::of(1u64..300_000_000),
                prop::option::of(1u64..300_000_000),
                (0u64..100_000_000, 0u64..100_000_000),
                any::<bool>(),
            ),
            1..4,
        ),
        members in prop::collection::vec(
            (prop::collection::vec(group_op(), 0..4), any::<prop::sample::Index>(), any::<bool>()),
            0..4,
        ),
        cfg in sim_config(),
    ) {
        let mut children: Vec<SimChild> = leaders
            .into_iter()
            .map(|(program, timeout, terminate_at, (kill_grace, eof_grace), hang)| {
                let mut program = program;
                if hang {
                    program.push(Op::Hang);
                }
                let timeout = match (timeout, terminate_at) {
                    (None, None) => Some(100_000_000),
                    (t, _) => t,
                };
                SimChild {
                    spec: ChildSpec {
                        stdout: true,
                        stderr: true,
                        timeout: timeout.map(Duration::from_nanos),
                        kill_grace: Duration::from_nanos(kill_grace),
                        // Leaders take a three-step sequence: every step
                        // goes to the group as TERM does.
                        stop_graces: spawn_core::StopGraces::new(&[
                            Duration::from_nanos(kill_grace / 2),
                            Duration::from_nanos(kill_grace / 3),
                        ])
                        .expect("two steps"),
                        eof_grace: Duration::from_nanos(eof_grace),
                        signal_group: true,
                        ..ChildSpec::default()
                    },
                    program,
                    terminate_at,
                    ..SimChild::default()
                }
            })
            .collect();
        let n = children.len();
        for (program, leader, hang) in members {
            let mut program = program;
            if hang {
                program.push(Op::Hang);
            }
            let l = leader.index(n);
            let spec = children[l].spec;
            children.push(SimChild {
                spec: ChildSpec {
                    stdout: true,
                    signal_group: false,
                    member_of: Some(ChildId(l)),
                    ..spec
                },
                program,
                terminate_at: children[l].terminate_at,
                ..SimChild::default()
            });
        }
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// Up to 1,000 children writing at once, some of them far more than
    /// the others: every ready stream gets its read within a bounded number
    /// of turns (each other stream's read budget, once round), whatever the
    /// hogs do.
    #[test]
    fn up_to_a_thousand_children_none_starves(
        n in 1usize..=1000,
        hogs in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
        budget in 1u32..8,
        seed in any::<u64>(),
        level_triggered in any::<bool>(),
    ) {
        let mut children: Vec<SimChild> = (0..n)
            .map(|i| SimChild::new(
                ChildSpec {
                    stdout: true,
                    stderr: i % 3 == 0,
                    read_chunk: 1024,
                    read_budget: budget,
                    ..ChildSpec::default()
                },
                vec![Op::Write(false, 3000), Op::Write(true, 1000)],
            ))
            .collect();
        for h in &hogs {
            children[h.index(n)].program = vec![Op::Write(false, 1 << 20)];
        }
        let cfg = SimConfig {
            pipe_capacity: 4096,
            seed,
            max_steps: 50_000_000,
            level_triggered,
            keep_bytes: false,
            fast_writers: true,
            ..SimConfig::default()
        };
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
        // A ready stream waits at most for every other stream's budget.
        let bound = budget as usize * 2 * n + 2 * n;
        prop_assert!(r.max_read_wait <= bound, "waited {} turns > {}", r.max_read_wait, bound);
    }
}

/// 1,000 children, each writing 64 KiB as fast as it can: none waits
/// more than a bounded number of turns between readiness and its read.
#[test]
fn a_thousand_writers_are_served_fairly() {
    let n = 1000;
    let children: Vec<SimChild> = (0..n)
        .map(|_| {
            SimChild::new(
                ChildSpec {
                    stdout: true,
                    read_chunk: 4096,
                    read_budget: 4,
                    ..ChildSpec::default()
                },
                vec![Op::Write(false, 64 << 10)],
            )
        })
        .collect();
    let cfg = SimConfig {
        pipe_capacity: 4096,
        seed: 7,
        max_steps: 50_000_000,
        keep_bytes: false,
        fast_writers: true,
        ..SimConfig::default()
    };
    let r = Sim::new(children.clone(), cfg).run();
    check(&children, &cfg, &r).unwrap();
    assert!(
        r.max_read_wait <= 4 * n + n,
        "a stream waited {} turns",
        r.max_read_wait
    );
}
