//! `--halt`: when to stop a `spawn many` run early, and the exit code it
//! leaves, in GNU parallel's words and by its rules: `never`, or
//! `now|soon,fail=N|success=N|done=N` (`N` a count, or a percentage of all
//! the jobs, `N%`); `soon` stops starting jobs and waits for the running
//! ones, `now` also stops them. `0`, `1`, `2`, `-1`, `-2` and `N%` are
//! parallel's short forms of `never`, `soon,fail=1`, `now,fail=1`,
//! `soon,success=1`, `now,success=1` and `soon,fail=N%`.
//!
//! The exit code ([`Halt::code_when_triggered`], [`Halt::code_at_end`]):
//! a halt on successes leaves 0; one on failures or jobs done leaves the
//! number of failed jobs (at most 101), or their percentage of all jobs
//! (rounded up) with `N%`; when the threshold is one job, that job's exit
//! code (128+N for signal N).

use std::fmt;
use std::str::FromStr;

/// How soon a triggered halt stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// No new jobs; the running ones finish.
    Soon,
    /// The running ones are stopped too.
    Now,
}

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    Fail,
    Success,
    Done,
}

/// A threshold: a count or a percentage.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Limit {
    Count(u64),
    Percent(f64),
}

/// A `--halt` policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Halt {
    pub when: When,
    what: What,
    limit: Limit,
}

impl FromStr for Halt {
    type Err = String;

    fn from_str(s: &str) -> Result<Halt, String> {
        let bad = || {
            format!(
                "{s:?}: want never, 1, 2, or now|soon,fail=N|success=N|done=N (N a count or N%)"
            )
        };
        let pct_short = s.strip_suffix('%').map(|n| format!("fail={n}%"));
        let (when, rule) = match s {
            "1" => (When::Soon, "fail=1"),
            "2" => (When::Now, "fail=1"),
            "-1" => (When::Soon, "success=1"),
            "-2" => (When::Now, "success=1"),
            _ if pct_short.is_some() && !s.contains(',') => {
                (When::Soon, pct_short.as_deref().unwrap_or_default())
            }
            _ => {
                let (w, r) = s.split_once(',').ok_or_else(bad)?;
                let when = match w {
                    "now" => When::Now,
                    "soon" => When::Soon,
                    _ => return Err(bad()),
                };
                (when, r)
            }
        };
        let (what, n) = rule.split_once('=').ok_or_else(bad)?;
        let what = match what {
            "fail" => What::Fail,
            "success" => What::Success,
            "done" => What::Done,
            _ => return Err(bad()),
        };
        let limit = match n.strip_suffix('%') {
            Some(p) => match p.parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 100.0 => Limit::Percent(p),
                _ => return Err(bad()),
            },
            None => match n.parse::<u64>() {
                Ok(n) if n > 0 => Limit::Count(n),
                _ => return Err(bad()),
            },
        };
        Ok(Halt { when, what, limit })
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = match self.when {
            When::Now => "now",
            When::Soon => "soon",
        };
        let what = match self.what {
            What::Fail => "fail",
            What::Success => "success",
            What::Done => "done",
        };
        match self.limit {
            Limit::Count(n) => write!(f, "{when},{what}={n}"),
            Limit::Percent(p) => write!(f, "{when},{what}={p}%"),
        }
    }
}

/// `--halt`'s value: `never` is `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Policy(pub Option<Halt>);

/// Parses `--halt`'s value.
pub(crate) fn parse(s: &str) -> Result<Policy, String> {
    if s == "never" || s == "0" {
        Ok(Policy(None))
    } else {
        s.parse().map(|h| Policy(Some(h)))
    }
}

/// The counts of a run that `--halt` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Jobs finished.
    pub done: u64,
    /// Jobs failed, of those.
    pub failed: u64,
    /// All the jobs of the run (percentages are of these, as GNU
    /// parallel's are); `None` while not known (then those finished so
    /// far).
    pub total: Option<u64>,
}

impl Tally {
    fn total(&self) -> u64 {
        self.total.unwrap_or(self.done).max(self.done).max(1)
    }

    /// `failed` in percent of all jobs, rounded up.
    fn failed_percent(&self) -> i32 {
        let pct = (self.failed * 100).div_ceil(self.total());
        i32::try_from(pct).unwrap_or(100)
    }

    fn failed_count(&self) -> i32 {
        i32::try_from(self.failed.min(101)).unwrap_or(101)
    }
}

impl Halt {
    /// Whether the policy is a percentage (then the run needs to know how
    /// many jobs there are in all).
    pub(crate) fn is_percent(&self) -> bool {
        matches!(self.limit, Limit::Percent(_))
    }

    /// The threshold in jobs.
    #[allow(clippy::cast_precision_loss)] // counts of jobs
    fn threshold(&self, t: &Tally) -> f64 {
        match self.limit {
            Limit::Count(c) => c as f64,
            Limit::Percent(p) => t.total() as f64 * p / 100.0,
        }
    }

    /// Whether the policy is met by `t`.
    #[allow(clippy::cast_precision_loss)] // counts of jobs
    pub(crate) fn triggered(&self, t: &Tally) -> bool {
        let n = match self.what {
            What::Fail => t.failed,
            What::Success => t.done - t.failed,
            What::Done => t.done,
        };
        n > 0 && n as f64 >= self.threshold(t)
    }

    /// The exit code of a run this policy halted, `t` when it triggered,
    /// `job` the exit code of the job that triggered it.
    #[allow(clippy::float_cmp)] // a count of jobs, exactly 1 or not
    pub(crate) fn code_when_triggered(&self, t: &Tally, job: i32) -> i32 {
        match (self.what, self.limit) {
            (What::Success, _) => 0,
            _ if self.threshold(t) == 1.0 => job,
            (_, Limit::Percent(_)) => t.failed_percent(),
            (_, Limit::Count(_)) => t.failed_count(),
        }
    }

    /// The exit code of a run with this policy that it did not halt.
    pub(crate) fn code_at_end(&self, t: &Tally) -> i32 {
        match self.limit {
            Limit::Percent(_) => t.failed_percent(),
            Limit::Count(_) => t.failed_count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gnu_parallels_forms() {
        assert_eq!(parse("never"), Ok(Policy(None)));
        let t = |done, failed, total| Tally {
            done,
            failed,
            total,
        };
        let h = parse("now,fail=2").expect("ok").0.expect("some");
        assert_eq!(h.when, When::Now);
        assert!(!h.triggered(&t(5, 1, None)));
        assert!(h.triggered(&t(5, 2, None)));
        // GNU parallel exits with the count, not the job's code.
        assert_eq!(h.code_when_triggered(&t(5, 2, None), 7), 2);
        let h = parse("soon,success=1").expect("ok").0.expect("some");
        assert!(h.triggered(&t(1, 0, None)) && !h.triggered(&t(1, 1, None)));
        assert_eq!(h.code_when_triggered(&t(2, 1, None), 0), 0);
        for (short, long) in [
            ("2", "now,fail=1"),
            ("-1", "soon,success=1"),
            ("-2", "now,success=1"),
            ("5%", "soon,fail=5%"),
        ] {
            assert_eq!(parse(short).expect("ok").0.expect("some").to_string(), long);
        }
        assert_eq!(parse("0"), Ok(Policy(None)));
        // Percentages are of all the jobs.
        let h = parse("soon,fail=20%").expect("ok").0.expect("some");
        assert!(!h.triggered(&t(2, 1, Some(10))) && h.triggered(&t(3, 2, Some(10))));
        assert_eq!(h.code_when_triggered(&t(3, 2, Some(10)), 4), 20);
        assert_eq!(h.code_at_end(&t(10, 1, Some(10))), 10);
        let h = parse("soon,fail=15%").expect("ok").0.expect("some");
        assert_eq!(h.code_when_triggered(&t(2, 2, Some(10)), 4), 20);
        // A threshold of one job: that job's code.
        let h = parse("now,fail=10%").expect("ok").0.expect("some");
        assert_eq!(h.code_when_triggered(&t(1, 1, Some(10)), 4), 4);
        for bad in [
            "now",
            "later,fail=1",
            "now,fail=0",
            "now,oops=1",
            "soon,fail=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
