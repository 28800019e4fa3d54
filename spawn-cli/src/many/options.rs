//! The values of `spawn many`'s options that GNU parallel writes its own
//! way: `-j` (`N`, `+N`, `-N` or `N%` of the CPUs), `--timeout` (seconds,
//! with `s`/`m`/`h`/`d` postfixes, or `N%` of the median run time of the
//! jobs that succeeded), `--retries` (`0`: no end) and `--joblog` (`+FILE`
//! appends).

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// `-j`: how many jobs run at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum JobsSpec {
    /// `N` (0: no limit).
    Count(usize),
    /// `+N` / `-N`: the number of CPUs plus N.
    Plus(i64),
    /// `N%` of the number of CPUs.
    Percent(f64),
}

impl JobsSpec {
    /// Parses `-j`'s value.
    ///
    /// # Errors
    /// The value is none of GNU parallel's forms.
    pub(crate) fn parse(s: &str) -> Result<JobsSpec, String> {
        let bad = || format!("{s:?}: want N, +N, -N or N% (of the CPUs)");
        if let Some(p) = s.strip_suffix('%') {
            return match p.parse::<f64>() {
                Ok(p) if p.is_finite() && p >= 0.0 => Ok(JobsSpec::Percent(p)),
                _ => Err(bad()),
            };
        }
        if s.starts_with('+') || s.starts_with('-') {
            return s.parse::<i64>().map(JobsSpec::Plus).map_err(|_| bad());
        }
        s.parse::<usize>().map(JobsSpec::Count).map_err(|_| bad())
    }

    /// The number of jobs at once on a machine with `cpus` CPUs (at least
    /// 1, but for `0`: no limit).
    pub(crate) fn resolve(self, cpus: usize) -> usize {
        match self {
            JobsSpec::Count(n) => n,
            JobsSpec::Plus(d) => {
                let n = i64::try_from(cpus).unwrap_or(i64::MAX).saturating_add(d);
                usize::try_from(n.max(1)).unwrap_or(usize::MAX)
            }
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )] // a CPU count times a percentage, floored, at least 1
            JobsSpec::Percent(p) => ((cpus as f64 * p / 100.0).floor() as usize).max(1),
        }
    }
}

/// `--timeout`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum TimeoutSpec {
    /// A fixed duration.
    Fixed(Duration),
    /// `N%` of the median run time of the jobs that succeeded (none
    /// before the first success).
    OfMedian(f64),
}

/// Parses `--timeout`'s value: seconds (`2.5`), with units (`1m30s`,
/// `1d3.5h`), or `N%`.
///
/// # Errors
/// The value is none of these forms.
/// Parses `--idle-timeout`'s value: `--timeout`'s forms but a percentage.
///
/// # Errors
/// Not a time.
pub(crate) fn parse_idle_timeout(s: &str) -> Result<Duration, String> {
    match parse_timeout(s)? {
        TimeoutSpec::Fixed(t) => Ok(t),
        TimeoutSpec::OfMedian(_) => {
            Err(format!("{s:?}: want a time (2.5, 1m30s), not a percentage"))
        }
    }
}

pub(crate) fn parse_timeout(s: &str) -> Result<TimeoutSpec, String> {
    let bad = || format!("{s:?}: want seconds (2.5), with s/m/h/d (1m30s), or N% of the median");
    if let Some(p) = s.strip_suffix('%') {
        return match p.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 => Ok(TimeoutSpec::OfMedian(p)),
            _ => Err(bad()),
        };
    }
    let secs = parse_duration(s).ok_or_else(bad)?;
    Duration::try_from_secs_f64(secs)
        .map(TimeoutSpec::Fixed)
        .map_err(|_| bad())
}

/// Seconds in GNU parallel's time postfixes: a number, or numbers each
/// followed by `s`, `m`, `h` or `d` (case-insensitive).
fn parse_duration(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return (n.is_finite() && n >= 0.0 && !s.starts_with(['+', '-'])).then_some(n);
    }
    let mut total = 0.0;
    let mut num = String::new();
    for c in s.chars() {
        let unit = match c.to_ascii_lowercase() {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            c if c.is_ascii_digit() || c == '.' => {
                num.push(c);
                continue;
            }
            _ => return None,
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
    }
    (num.is_empty() && !s.is_empty()).then_some(total)
}

/// The run times of the jobs that succeeded, for `--timeout N%`: the last
/// [`KEPT`] of them, whose median is the base.
#[derive(Default)]
pub(crate) struct Runtimes {
    last: Mutex<(Vec<f64>, usize)>,
}

/// How many run times [`Runtimes`] keeps.
const KEPT: usize = 999;

impl Runtimes {
    /// A job succeeded after `wall`.
    pub(crate) fn record(&self, wall: Duration) {
        let mut l = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (v, next) = &mut *l;
        if v.len() < KEPT {
            v.push(wall.as_secs_f64());
        } else {
            v[*next % KEPT] = wall.as_secs_f64();
        }
        *next += 1;
    }

    /// Their median, if any.
    pub(crate) fn median(&self) -> Option<Duration> {
        let mut v = self
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone();
        if v.is_empty() {
            return None;
        }
        let mid = v.len() / 2;
        let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
        Duration::try_from_secs_f64(*m).ok()
    }
}

/// `-d`'s value: one character, or a C escape (`\n`, `\t`, `\0`, `\\`,
/// `\xHH`, `\NNN` octal), as one byte.
///
/// # Errors
/// Anything else (spawn splits at one byte).
pub(crate) fn delimiter(s: &str) -> Result<u8, String> {
    let bad = || format!("-d {s:?}: want one character or an escape (\\n, \\t, \\0, \\xHH, \\NNN)");
    let b = s.as_bytes();
    match b {
        [c] => Ok(*c),
        [b'\\', e] => match e {
            b'n' => Ok(b'\n'),
            b't' => Ok(b'\t'),
            b'r' => Ok(b'\r'),
            b'0' => Ok(0),
            b'a' => Ok(7),
            b'\\' => Ok(b'\\'),
            _ => Err(bad()),
        },
        [b'\\', b'x', hex @ ..] => {
            u8::from_str_radix(std::str::from_utf8(hex).map_err(|_| bad())?, 16).map_err(|_| bad())
        }
        [b'\\', oct @ ..] => {
            u8::from_str_radix(std::str::from_utf8(oct).map_err(|_| bad())?, 8).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// `--retries N`: the number of tries in all; 0 is no end (GNU parallel's).
pub(crate) fn tries(retries: u32) -> u32 {
    if retries == 0 { u32::MAX } else { retries }
}

/// `--joblog`'s value: the file, and whether lines are appended (`+FILE`,
/// no header) or it is written anew.
pub(crate) fn joblog_path(value: &std::path::Path) -> (PathBuf, bool) {
    use std::os::unix::ffi::OsStrExt;
    match value.as_os_str().as_bytes().strip_prefix(b"+") {
        Some(rest) => (PathBuf::from(std::ffi::OsStr::from_bytes(rest)), true),
        None => (value.to_path_buf(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_like_gnu_parallel() {
        let j = |s| JobsSpec::parse(s).expect("parses").resolve(4);
        assert_eq!(j("3"), 3);
        assert_eq!(j("0"), 0);
        assert_eq!(j("200%"), 8);
        assert_eq!(j("50%"), 2);
        assert_eq!(j("1%"), 1);
        assert_eq!(j("+2"), 6);
        assert_eq!(j("-1"), 3);
        assert_eq!(j("-10"), 1);
        for bad in ["x", "%", "1.5", "-x%"] {
            assert!(JobsSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_like_gnu_parallel() {
        let t = |s| parse_timeout(s).expect("parses");
        let secs = |s: f64| TimeoutSpec::Fixed(Duration::from_secs_f64(s));
        assert_eq!(t("2.5"), secs(2.5));
        assert_eq!(t("1s"), secs(1.0));
        assert_eq!(t("1m30s"), secs(90.0));
        assert_eq!(t("1d3.5h16.6m4s"), secs(100_000.0));
        assert_eq!(t("2H"), secs(7200.0));
        assert_eq!(t("200%"), TimeoutSpec::OfMedian(200.0));
        for bad in ["", "s", "1x", "-1", "1s2", "inf", "0%"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delimiters() {
        assert_eq!(delimiter(","), Ok(b','));
        assert_eq!(delimiter("\\n"), Ok(b'\n'));
        assert_eq!(delimiter("\\0"), Ok(0));
        assert_eq!(delimiter("\\x1f"), Ok(0x1f));
        assert_eq!(delimiter("\\037"), Ok(0o37));
        assert!(delimiter("ab").is_err());
        assert!(delimiter("").is_err());
    }

    #[test]
    fn median_of_successful_runtimes() {
        let r = Runtimes::default();
        assert_eq!(r.median(), None);
        for ms in [30, 10, 20] {
            r.record(Duration::from_millis(ms));
        }
        assert_eq!(r.median(), Some(Duration::from_millis(20)));
    }
}
