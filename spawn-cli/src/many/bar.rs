//! `--bar` and `--eta`: the run's progress on stderr even when stderr is
//! no terminal (GNU parallel's options; on a terminal the progress line
//! of [`super::progress`] already shows the counts and the ETA, and these
//! add nothing). Each update is one line ended by `\r`, as GNU parallel's
//! (at most ten a second, and the last when the run ends, then `\n`):
//!
//! ```text
//! --bar:  40% 4:6=3s      (percent done, done:left, the time left)
//! --eta:  ETA: 3s Left: 6 AVG: 0.50s  local:4/4/100%/0.5s
//! ```
//!
//! The total is known from `:::` lists, or once the input has ended.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::progress::Counts;
use crate::screen::screen;

/// Which progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shown {
    /// `--bar`.
    Bar,
    /// `--eta`.
    Eta,
}

/// The progress written to stderr (see the module docs).
pub(crate) struct Bar {
    shown: Shown,
    since: Instant,
    last: Option<Instant>,
}

const EVERY: Duration = Duration::from_millis(100);

impl Bar {
    /// `--bar`/`--eta` as asked; `None` when stderr is a terminal (the
    /// progress line shows it) or neither was asked.
    pub(crate) fn new(bar: bool, eta: bool) -> Option<Bar> {
        let shown = match (bar, eta) {
            (true, _) => Shown::Bar,
            (false, true) => Shown::Eta,
            (false, false) => return None,
        };
        (!screen().is_terminal()).then(|| Bar {
            shown,
            since: Instant::now(),
            last: None,
        })
    }

    /// A job ended: the progress, unless one was written very recently.
    pub(crate) fn update(&mut self, counts: &Counts) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < EVERY) {
            return;
        }
        self.last = Some(now);
        screen().err(self.text(counts).as_bytes());
    }

    /// The run ended: the last progress, and the line ended.
    pub(crate) fn finish(&mut self, counts: &Counts) {
        let mut text = self.text(counts);
        text.push('\n');
        screen().err(text.as_bytes());
    }

    fn text(&self, counts: &Counts) -> String {
        let done = counts.done.load(Ordering::Relaxed);
        let running = counts.running.load(Ordering::Relaxed);
        let total = counts.total().unwrap_or(done).max(done);
        let left = total - done;
        let elapsed = self.since.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // job counts
        let avg = if done == 0 {
            0.0
        } else {
            elapsed / done as f64
        };
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let eta = (avg * left as f64 / running.max(1) as f64).round() as u64;
        match self.shown {
            Shown::Bar => {
                let pct = (done * 100).checked_div(total).unwrap_or(100);
                format!("{pct}% {done}:{left}={eta}s\r")
            }
            Shown::Eta => format!(
                "ETA: {eta}s Left: {left} AVG: {avg:.2}s  local:{running}/{done}/100%/{avg:.1}s\r"
            ),
        }
    }
}
