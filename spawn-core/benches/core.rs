//! The scheduler's cost: events per second through it, and the cost of one
//! turn (10 children become readable, each is read once with data and once
//! more until it would block, then the scheduler waits) with 100 and with
//! 10,000 children registered. The turn touches only ready children, so
//! the ratio of the two must stay below 2 (the acceptance bound of issue 3).
//!
//! `cargo bench -p spawn-core --bench core` (add `-- --smoke`, or set
//! `SPAWN_BENCH_SMOKE=1`, for a tiny run that only proves it works).

use std::hint::black_box;
use std::time::{Duration, Instant};

use spawn_core::{
    Action, ChildId, ChildSpec, Event, Output, Scheduler, SchedulerConfig, Stream, Timestamp,
};

/// A scheduler with `n` started children, each holding stdout and stderr,
/// with a timeout armed (so the timer heap has `n` entries too).
fn setup(n: usize) -> Scheduler {
    let mut s = Scheduler::new(SchedulerConfig::default());
    for _ in 0..n {
        s.add(ChildSpec {
            stdout: true,
            stderr: true,
            timeout: Some(Duration::from_secs(3600)),
            ..ChildSpec::default()
        });
    }
    let now = Timestamp::ZERO;
    while let Output::Action(a) = s.poll(now) {
        if let Action::Start { child } = a {
            s.handle(Event::Started { child }, now);
        }
    }
    s
}

/// One turn: `ready` children become readable; the loop reads each once
/// with data, once more to `EAGAIN`. Returns events plus actions.
fn turn(s: &mut Scheduler, ready: &[usize], now: Timestamp) -> u64 {
    let mut count = 0;
    for &c in ready {
        s.handle(
            Event::Readable {
                child: ChildId(c),
                stream: Stream::Stdout,
            },
            now,
        );
        count += 1;
    }
    let mut seen = [usize::MAX; 10];
    loop {
        match s.poll(now) {
            Output::Action(Action::Read { child, stream, .. }) => {
                // First read of the turn gets data, the next would block.
                let first = !seen.contains(&child.0);
                if first && let Some(slot) = seen.iter_mut().find(|s| **s == usize::MAX) {
                    *slot = child.0;
                }
                let e = if first {
                    Event::Read {
                        child,
                        stream,
                        n: 1,
                    }
                } else {
                    Event::ReadWouldBlock { child, stream }
                };
                s.handle(e, now);
                count += 2;
            }
            Output::Action(a) => {
                black_box(a);
                count += 1;
            }
            w => {
                black_box(w);
                return count + 1;
            }
        }
    }
}

/// The median time of one turn with 10 ready among `n`, and events/s.
fn measure(n: usize, turns: usize) -> (Duration, f64) {
    let mut s = setup(n);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut ready = [0usize; 10];
    let mut samples = Vec::with_capacity(turns);
    let mut events = 0u64;
    let start = Instant::now();
    for t in 0..turns {
        // A different 10 each turn, spread over all children (no hot set).
        for r in &mut ready {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *r = (rng % n as u64) as usize;
        }
        let now = Timestamp::from_nanos(t as u64 * 1000);
        let t0 = Instant::now();
        events += turn(&mut s, &ready, now);
        samples.push(t0.elapsed());
    }
    let total = start.elapsed();
    samples.sort();
    (
        samples[samples.len() / 2],
        events as f64 / total.as_secs_f64(),
    )
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke")
        || std::env::var_os("SPAWN_BENCH_SMOKE").is_some_and(|v| v != "0");
    let (rounds, turns) = if smoke { (1, 200) } else { (7, 200_000) };
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let (small, small_rate) = measure(100, turns);
        let (big, big_rate) = measure(10_000, turns);
        let ratio = big.as_secs_f64() / small.as_secs_f64();
        println!(
            "round {round}: turn with 10 ready among 100: {small:?} ({small_rate:.0} events/s); \
             among 10,000: {big:?} ({big_rate:.0} events/s); ratio {ratio:.2}"
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!("median ratio (10,000 vs 100 registered): {median:.2} (must be < 2)");
    if !smoke {
        assert!(median < 2.0, "turn cost grows with the number of children");
    }
}
