//! Properties of the scheduler, checked against the simulated kernel with
//! random child programs, pipe sizes, partial reads/writes and readiness
//! orders. `PROPTEST_CASES=2000 cargo test -p spawn-core --release` runs
//! them hard; the default count keeps CI quick.

use std::time::Duration;

use proptest::prelude::*;
use spawn_core::sim::{Op, Report, Sim, SimChild, SimConfig, input_byte, pattern};
use spawn_core::{ChildSpec, KillSignal};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Programs that end on their own (no hang, no grandchild living forever).
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..20_000).prop_map(Op::Read),
        6 => (any::<bool>(), 1usize..30_000).prop_map(|(e, n)| Op::Write(e, n)),
        1 => Just(Op::CloseStdin),
        1 => any::<bool>().prop_map(Op::CloseOut),
        1 => (1u64..50_000_000).prop_map(Op::Sleep),
        1 => (1u64..300_000_000).prop_map(|t| Op::Grandchild(Some(t))),
        1 => Just(Op::IgnoreTerm),
    ]
}

fn ending() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        3 => Just(vec![]),
        1 => (0i32..4).prop_map(|c| vec![Op::Exit(c)]),
        1 => Just(vec![Op::Die(9)]),
        // Only with a timeout (see `child`): a child that never ends by itself.
        1 => Just(vec![Op::Hang]),
        1 => Just(vec![Op::Grandchild(None)]),
    ]
}

fn child() -> impl Strategy<Value = SimChild> {
    (
        prop::collection::vec(op(), 0..12),
        ending(),
        any::<(bool, bool, bool)>(),
        0u64..100_000,
        prop::option::of(1u64..2_000_000_000),
        prop::option::of(1usize..100_000),
        (1u32..6, 1usize..70_000, 1usize..70_000),
        any::<bool>(),
    )
        .prop_map(
            |(
                mut program,
                end,
                (stdin, stdout, stderr),
                input,
                timeout,
                sink,
                (budget, rc, wc),
                group,
            )| {
                let hangs = matches!(end.as_slice(), [Op::Hang]);
                program.extend(end);
                // A child that never ends by itself always gets a timeout.
                let timeout = match (hangs, timeout) {
                    (true, None) => Some(1_000_000_000),
                    (_, t) => t,
                };
                SimChild {
                    spec: ChildSpec {
                        stdin,
                        input_len: if stdin { input } else { 0 },
                        stdout,
                        stderr,
                        timeout: timeout.map(Duration::from_nanos),
                        kill_grace: Duration::from_millis(500),
                        eof_grace: Duration::from_millis(50),
                        signal_group: group,
                        read_chunk: rc,
                        read_budget: budget,
                        write_chunk: wc,
                    },
                    program,
                    sink_limit: sink,
                }
            },
        )
}

fn sim_config() -> impl Strategy<Value = SimConfig> {
    (1usize..70_000, any::<u64>(), 0usize..5).prop_map(|(cap, seed, max)| SimConfig {
        pipe_capacity: cap,
        seed,
        max_running: max,
        max_steps: 5_000_000,
    })
}

/// Checks every promise of the core on one finished simulation.
fn check(children: &[SimChild], cfg: &SimConfig, r: &Report) -> Result<(), TestCaseError> {
    prop_assert!(!r.quiescent, "stalled with nothing to wait for");
    prop_assert!(r.finished_all, "not finished after {} steps", r.steps);
    if cfg.max_running > 0 {
        prop_assert!(r.max_running_seen <= cfg.max_running);
    }
    for (c, ch) in children.iter().enumerate() {
        let o = r.outcomes[c].as_ref().expect("finished");
        // Every byte, in order, per stream.
        for (i, held) in [ch.spec.stdout, ch.spec.stderr].into_iter().enumerate() {
            let got = &r.sinks[c][i];
            if !held {
                prop_assert!(got.is_empty());
                continue;
            }
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
            let abandoned = if i == 0 {
                o.stdout_abandoned
            } else {
                o.stderr_abandoned
            };
            if abandoned {
                prop_assert!(got.len() as u64 <= r.written[c][i]);
            } else {
                prop_assert_eq!(
                    got.len() as u64,
                    r.written[c][i],
                    "child {} stream {} lost bytes",
                    c,
                    i
                );
            }
            let counted = if i == 0 {
                o.stdout_bytes
            } else {
                o.stderr_bytes
            };
            prop_assert_eq!(counted, got.len() as u64);
        }
        // Input: a prefix, in order; all of it unless the child stopped taking it.
        let read = &r.input_read[c];
        for (k, &b) in read.iter().enumerate() {
            prop_assert_eq!(b, input_byte(c, k as u64));
        }
        prop_assert!(o.input_written >= read.len() as u64);
        prop_assert!(o.input_written <= ch.spec.input_len);
        if !o.input_broken {
            prop_assert_eq!(
                o.input_written,
                ch.spec.input_len,
                "child {} input cut short",
                c
            );
        }
        // Memory: a sink never holds more than its limit plus one read.
        if ch.sink_limit.is_some() {
            prop_assert!(r.max_sink_overshoot <= 70_000);
        }
        // Signals: only with a timeout, at the exact simulated times.
        let sigs = &r.signals[c];
        match ch.spec.timeout {
            None => prop_assert!(sigs.is_empty(), "signals without a timeout: {:?}", sigs),
            Some(t) => {
                let start = r.started[c].expect("started");
                if let Some(&(at, s)) = sigs.first() {
                    prop_assert_eq!(s, KillSignal::Term);
                    prop_assert_eq!(at, start.saturating_add(t));
                    prop_assert!(o.timed_out);
                }
                if let Some(&(at, s)) = sigs.get(1) {
                    prop_assert_eq!(s, KillSignal::Kill);
                    prop_assert_eq!(
                        at,
                        start.saturating_add(t).saturating_add(ch.spec.kill_grace)
                    );
                }
                prop_assert!(sigs.len() <= 2);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// One child: never stalls, loses no byte, delivers all input unless the
    /// child stopped taking it, keeps sinks bounded, fires timers on time.
    #[test]
    fn one_child_keeps_every_promise(ch in child(), cfg in sim_config()) {
        let children = vec![ch];
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
    }

    /// Many children under a running limit: the same promises for each, and
    /// the limit is never exceeded.
    #[test]
    fn many_children_keep_every_promise(
        children in prop::collection::vec(child(), 1..12),
        cfg in sim_config(),
    ) {
        let r = Sim::new(children.clone(), cfg).run();
        check(&children, &cfg, &r)?;
    }
}

/// Up to 1,000 children each writing as fast as they can: none waits more
/// than a bounded number of actions behind the others between becoming
/// readable and being read.
#[test]
fn a_thousand_writers_are_served_fairly() {
    let n = 1000;
    let children: Vec<SimChild> = (0..n)
        .map(|_| SimChild {
            spec: ChildSpec {
                stdout: true,
                read_chunk: 4096,
                read_budget: 4,
                ..ChildSpec::default()
            },
            program: vec![Op::Write(false, 64 << 10)],
            sink_limit: None,
        })
        .collect();
    let cfg = SimConfig {
        pipe_capacity: 4096,
        seed: 7,
        max_running: 0,
        max_steps: 50_000_000,
    };
    let r = Sim::new(children.clone(), cfg).run();
    check(&children, &cfg, &r).unwrap();
    // Each ready stream is read within one round over the others: at most
    // every stream's budget of reads, plus the exits and closes.
    assert!(
        r.max_read_wait <= 4 * n * 6,
        "a stream waited {} actions",
        r.max_read_wait
    );
}
