//! Admission: a job starts only when the machine has room for it.
//! `--memfree SIZE` holds starts while the memory available (see
//! [`cgroup::available_memory`]) is below SIZE (and below half of it, the
//! youngest running job is stopped and put back: [`super::evict`]); `--load MAX` while the CPU
//! is busier than MAX; `--delay SECS` keeps that long between starts. The
//! reader of the input waits here before it hands a job to the group (the
//! run then queues no job ahead, so handing one over starts it), and the
//! reason is on the progress line (`waiting: 1.2 GB free < --memfree 2
//! GB`).
//!
//! `--load MAX` is GNU parallel's value (a load, or N% of the usable
//! CPUs). Its figure comes from the CPU pressure where the kernel has it:
//! a load L on C CPUs keeps tasks waiting about (L−C)/L of the time, so a
//! pressure P% is read as the load C/(1−P/100); with no pressure (a load
//! at most C, which pressure cannot tell apart) and without pressure
//! figures, the 1-minute load average is the figure.
//!
//! **Test hook.** `SPAWN_MANY_TEST_MEMAVAILABLE=FILE` and
//! `SPAWN_MANY_TEST_LOAD=FILE` make the figures the number in FILE, read
//! at each check, so tests simulate a short machine without making one.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::cgroup;
use super::control::Control;
use super::progress::Counts;

/// How often held starts look at the figures again (and the memory
/// watch of [`super::evict`] looks at memory).
pub(crate) const RECHECK: Duration = Duration::from_millis(250);

/// The environment variables of the test hook.
const TEST_MEM: &str = "SPAWN_MANY_TEST_MEMAVAILABLE";
const TEST_LOAD: &str = "SPAWN_MANY_TEST_LOAD";

/// Parses a size: bytes, or a number with GNU parallel's postfix (`K M G T
/// P` of 1024, `k m g t p` of 1000).
///
/// # Errors
/// Anything else.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let bad =
        || format!("{s:?}: want bytes, or a number with K, M, G, T (1024) or k, m, g, t (1000)");
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let p = "kmgtp".find(c.to_ascii_lowercase()).ok_or_else(bad)?;
            let base: f64 = if c.is_ascii_uppercase() {
                1024.0
            } else {
                1000.0
            };
            (&s[..i], base.powi(i32::try_from(p).unwrap_or(0) + 1))
        }
        _ => (s, 1.0),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a size in bytes, >= 0
    Ok((n * mult) as u64)
}

/// `--load`'s value: a load, or a percent of the usable CPUs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum LoadSpec {
    Load(f64),
    PercentOfCpus(f64),
}

/// Parses `--load`'s value.
///
/// # Errors
/// Not a number (with `%`).
pub(crate) fn parse_load(s: &str) -> Result<LoadSpec, String> {
    let bad = || format!("{s:?}: want a load (2.5) or N% of the CPUs");
    let (num, pct) = s.strip_suffix('%').map_or((s, false), |n| (n, true));
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(bad());
    }
    Ok(if pct {
        LoadSpec::PercentOfCpus(n)
    } else {
        LoadSpec::Load(n)
    })
}

/// A load read from a CPU pressure of `pressure` percent on `cpus` CPUs
/// (see the module docs); `None` when there is no pressure.
#[allow(clippy::cast_precision_loss)] // a few CPUs
fn load_of_pressure(pressure: f64, cpus: usize) -> Option<f64> {
    (pressure > 0.0).then(|| cpus as f64 / (1.0 - pressure.min(99.0) / 100.0))
}

/// The admission of one run.
pub(crate) struct Admission {
    pub memfree: Option<u64>,
    pub load: Option<f64>,
    pub delay: Option<Duration>,
    cpus: usize,
    last_start: Mutex<Option<Instant>>,
    test_mem: Option<PathBuf>,
    test_load: Option<PathBuf>,
}

fn hook(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from)
}

fn hooked(p: &std::path::Path) -> Option<f64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Bytes for people: `1.2 GB`.
#[allow(clippy::cast_precision_loss)] // shown with one decimal
pub(crate) fn size(b: u64) -> String {
    let b = b as f64;
    match b {
        _ if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        _ if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} kB", b / 1e3),
    }
}

impl Admission {
    /// The admission the options say on `cpus` usable CPUs; `None` when
    /// they say none.
    pub(crate) fn new(
        memfree: Option<u64>,
        load: Option<LoadSpec>,
        delay: Option<Duration>,
        cpus: usize,
    ) -> Option<Admission> {
        #[allow(clippy::cast_precision_loss)] // a few CPUs
        let load = load.map(|l| match l {
            LoadSpec::Load(n) => n,
            LoadSpec::PercentOfCpus(p) => cpus as f64 * p / 100.0,
        });
        (memfree.is_some() || load.is_some() || delay.is_some_and(|d| !d.is_zero())).then(|| {
            Admission {
                memfree,
                load,
                delay,
                cpus,
                last_start: Mutex::new(None),
                test_mem: hook(TEST_MEM),
                test_load: hook(TEST_LOAD),
            }
        })
    }

    /// The memory available now (the test hook's figure when it is set);
    /// `None` when it cannot be read.
    fn free_memory(&self) -> Option<u64> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // bytes
        match &self.test_mem {
            Some(p) => hooked(p).map(|f| f as u64),
            None => cgroup::available_memory(),
        }
    }

    /// With `--memfree SIZE`: the memory available when it is below half
    /// of SIZE (GNU parallel's rule: then the youngest job is stopped and
    /// put back, see [`super::evict`]).
    pub(crate) fn memory_short(&self) -> Option<u64> {
        let want = self.memfree?;
        self.free_memory().filter(|&free| free < want / 2)
    }

    /// Why a job may not start now, if it may not; and how long to wait.
    fn held(&self) -> Option<(String, Duration)> {
        if let Some(want) = self.memfree {
            if let Some(free) = self.free_memory()
                && free < want
            {
                return Some((
                    format!("{} free < --memfree {}", size(free), size(want)),
                    RECHECK,
                ));
            }
        }
        if let Some(max) = self.load {
            let now = match &self.test_load {
                Some(p) => hooked(p),
                None => cgroup::cpu_pressure()
                    .and_then(|p| load_of_pressure(p, self.cpus))
                    .or_else(cgroup::load_average),
            };
            if let Some(now) = now
                && now > max
            {
                return Some((format!("load {now:.1} > --load {max:.1}"), RECHECK));
            }
        }
        if let Some(delay) = self.delay {
            let last = *self
                .last_start
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(left) = last.and_then(|l| delay.checked_sub(l.elapsed()))
                && !left.is_zero()
            {
                return Some((
                    format!("--delay {}s", delay.as_secs_f64()),
                    left.min(RECHECK),
                ));
            }
        }
        None
    }

    /// Waits until a job may start (saying why on the progress line of
    /// `counts` meanwhile), then counts it started; `false` if the run
    /// stopped first.
    pub(crate) fn wait(&self, control: &Control, counts: &Counts) -> bool {
        loop {
            if control.stopping() {
                counts.set_waiting(None);
                return false;
            }
            match self.held() {
                Some((why, pause)) => {
                    counts.set_waiting(Some(why));
                    std::thread::sleep(pause);
                }
                None => break,
            }
        }
        counts.set_waiting(None);
        *self
            .last_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_gnu_parallel() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("1k"), Ok(1000));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("1.5G"), Ok(1_610_612_736));
        assert_eq!(parse_size("2m"), Ok(2_000_000));
        for bad in ["", "x", "1x", "-1", "k"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loads() {
        assert_eq!(parse_load("2.5"), Ok(LoadSpec::Load(2.5)));
        assert_eq!(parse_load("50%"), Ok(LoadSpec::PercentOfCpus(50.0)));
        assert!(parse_load("0").is_err());
        let a = Admission::new(None, Some(LoadSpec::PercentOfCpus(150.0)), None, 4).expect("some");
        assert_eq!(a.load, Some(6.0));
        // No pressure says nothing; half the time waiting on 4 CPUs is a load of 8.
        assert_eq!(load_of_pressure(0.0, 4), None);
        assert_eq!(load_of_pressure(50.0, 4), Some(8.0));
        assert!(Admission::new(None, None, Some(Duration::ZERO), 4).is_none());
    }
}
