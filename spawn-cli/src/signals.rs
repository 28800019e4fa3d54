//! Ctrl-C, Ctrl-\\, `kill` and a hung-up terminal (INT, QUIT, TERM, HUP),
//! and job control (Ctrl-Z's TSTP, `fg`'s CONT): taken out of normal
//! delivery at the top of `main`, before any thread exists, so that the
//! tool can pass them on to its children and exit after them, or stop
//! after them and continue them when it is continued.
//!
//! `run`, `pipe` and `trace` use the library's [`spawn::Forwarder`] as it is (a
//! terminal's Ctrl-C reaches a child in our process group by itself, so it
//! is forwarded only to children in groups of their own). `many` counts
//! them instead ([`Interrupts`]): the first stops launching and is
//! forwarded to the running jobs (each in a process group of its own), the
//! second stops them (stop signal, grace, KILL).

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use spawn::Signal;

/// The signals that end a run, which the tool passes on.
pub(crate) const SIGNALS: [Signal; 4] = [Signal::INT, Signal::QUIT, Signal::TERM, Signal::HUP];

/// Job control: Ctrl-Z stops the children, then the tool; `fg`
/// continues the tool, then the children (the library's forwarder); a
/// window change resizes a `--pty` child's terminal to ours.
pub(crate) const JOB_CONTROL: [Signal; 3] = [Signal::TSTP, Signal::CONT, Signal::WINCH];

/// The library's forwarder, installed once (see the module docs), with
/// [`SIGNALS`] and [`JOB_CONTROL`].
pub(crate) fn forwarder() -> Option<&'static spawn::Forwarder> {
    static FWD: OnceLock<Option<spawn::Forwarder>> = OnceLock::new();
    FWD.get_or_init(|| {
        let all: Vec<Signal> = SIGNALS.iter().chain(&JOB_CONTROL).copied().collect();
        spawn::Forwarder::install(&all).ok()
    })
    .as_ref()
}

/// Blocks [`SIGNALS`] and [`JOB_CONTROL`] in this thread: called first, before
/// any thread starts, every thread started after takes them out of normal
/// delivery too (else the kernel may pick a thread that has them unblocked,
/// and Ctrl-Z stops the tool at once, its children running on).
pub(crate) fn block_all() {
    let raw: Vec<i32> = SIGNALS
        .iter()
        .chain(&JOB_CONTROL)
        .map(|s| s.as_raw())
        .collect();
    let _ = spawn_sys::signal::block_signals(&raw);
}

/// The library's forwarder for [`JOB_CONTROL`] alone (`many` counts the
/// other signals itself, [`Interrupts`]), installed once.
pub(crate) fn job_control() -> Option<&'static spawn::Forwarder> {
    static FWD: OnceLock<Option<spawn::Forwarder>> = OnceLock::new();
    FWD.get_or_init(|| spawn::Forwarder::install(&JOB_CONTROL).ok())
        .as_ref()
}

type Handler = Box<dyn Fn(Signal, u32) + Send>;

/// The signals received, counted, and what to do on each.
pub(crate) struct Interrupts {
    count: AtomicU32,
    first: AtomicI32,
    handler: Mutex<Option<Handler>>,
}

/// Blocks [`SIGNALS`] and starts the thread that takes them; `None` if the
/// mask or the thread could not be set up (the signals then act as usual).
pub(crate) fn interrupts() -> Option<&'static Interrupts> {
    static INT: OnceLock<Option<Interrupts>> = OnceLock::new();
    let installed = INT
        .get_or_init(|| {
            let raw: Vec<i32> = SIGNALS.iter().map(|s| s.as_raw()).collect();
            spawn_sys::signal::block_signals(&raw).ok()?;
            Some(Interrupts {
                count: AtomicU32::new(0),
                first: AtomicI32::new(0),
                handler: Mutex::new(None),
            })
        })
        .as_ref()?;
    static THREAD: OnceLock<bool> = OnceLock::new();
    let started = *THREAD.get_or_init(|| {
        std::thread::Builder::new()
            .name("spawn-cli-signals".into())
            .spawn(|| {
                let raw: Vec<i32> = SIGNALS.iter().map(|s| s.as_raw()).collect();
                while let Ok(info) = spawn_sys::signal::wait_signal(&raw) {
                    if let Some(i) = interrupts() {
                        i.take(Signal::from_raw(info.signal));
                    }
                }
            })
            .is_ok()
    });
    started.then_some(installed)
}

impl Interrupts {
    fn take(&self, sig: Signal) {
        let _ = self
            .first
            .compare_exchange(0, sig.as_raw(), Ordering::SeqCst, Ordering::SeqCst);
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(h) = &*self.handler.lock().unwrap_or_else(PoisonError::into_inner) {
            h(sig, n);
        }
    }

    /// Calls `f(signal, n)` for the `n`th signal received (from 1); signals
    /// received before are handed to it at once, as the last of them.
    pub(crate) fn on_signal(&self, f: impl Fn(Signal, u32) + Send + 'static) {
        let mut h = self.handler.lock().unwrap_or_else(PoisonError::into_inner);
        let n = self.count.load(Ordering::SeqCst);
        if let Some(first) = self.first() {
            f(first, n);
        }
        *h = Some(Box::new(f));
    }

    /// The first signal received, if any.
    pub(crate) fn first(&self) -> Option<Signal> {
        match self.first.load(Ordering::SeqCst) {
            0 => None,
            s => Some(Signal::from_raw(s)),
        }
    }
}
