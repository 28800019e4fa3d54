//! `--halt`: when to stop a `spawn many` run early, in GNU parallel's
//! words: `never`, or `now|soon,fail=N|success=N|done=N` (`N` a count, or a
//! percentage of the jobs finished so far, `N%`); `soon` stops starting
//! jobs and waits for the running ones, `now` also stops them. `1` and `2`
//! are parallel's short forms of `soon,fail=1` and `now,fail=1`.

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
        let (when, rule) = match s {
            "1" => (When::Soon, "fail=1"),
            "2" => (When::Now, "fail=1"),
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
    if s == "never" {
        Ok(Policy(None))
    } else {
        s.parse().map(|h| Policy(Some(h)))
    }
}

impl Halt {
    /// Whether the policy counts failures (a halt it triggers exits with
    /// the code of the failing job, as GNU parallel's does).
    pub(crate) fn on_failures(&self) -> bool {
        self.what == What::Fail
    }

    /// Whether the policy is met after `done` jobs finished, `failed` of
    /// them failing.
    pub(crate) fn triggered(&self, done: u64, failed: u64) -> bool {
        let n = match self.what {
            What::Fail => failed,
            What::Success => done - failed,
            What::Done => done,
        };
        match self.limit {
            Limit::Count(c) => n >= c,
            #[allow(clippy::cast_precision_loss)] // counts of jobs
            Limit::Percent(p) => done > 0 && (n as f64) * 100.0 >= p * (done as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gnu_parallels_forms() {
        assert_eq!(parse("never"), Ok(Policy(None)));
        let h = parse("now,fail=2").expect("ok").0.expect("some");
        assert_eq!(h.when, When::Now);
        assert!(!h.triggered(5, 1));
        assert!(h.triggered(5, 2));
        let h = parse("soon,success=1").expect("ok").0.expect("some");
        assert!(h.triggered(1, 0) && !h.triggered(1, 1));
        assert_eq!(
            parse("2").expect("ok").0.expect("some").to_string(),
            "now,fail=1"
        );
        let h = parse("soon,fail=50%").expect("ok").0.expect("some");
        assert!(h.triggered(2, 1) && !h.triggered(3, 1));
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
