//! [`CancelToken`]: stop runs from anywhere (another thread, a signal
//! handler's thread, a caller's own deadline) with the normal teardown.
//!
//! A token is a flag and a [`LazyBell`] (made when the first engine
//! watches the token). Every engine driving a run that was
//! given the token (`cancel_on` on a [`Command`](crate::Command),
//! [`Group`](crate::Group) or [`Pipeline`](crate::Pipeline)) watches the
//! bell in its epoll set, so [`CancelToken::cancel`] wakes it at once;
//! the engine then asks the core to stop each child as a timeout does (the
//! stop signal to the child and its group, the grace, KILL) and finishes
//! them with [`Error::Cancelled`](crate::Error::Cancelled). Without a
//! bell (none could be made) the engine looks at the flag on a short
//! tick instead.

use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::doorbell::LazyBell;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    /// Made when the first engine watches the token; none when it could
    /// not be made (the engine polls the flag then).
    bell: LazyBell,
}

/// A handle that cancels the runs it was given to: `Clone + Send + Sync`,
/// cheap to clone, every clone the same token.
///
/// A cancelled run stops its children as a [`timeout`](crate::Command::timeout)
/// does and returns [`Error::Cancelled`](crate::Error::Cancelled) with the
/// output so far; in a [`Group`](crate::Group), every child not finished
/// gets that error in its place and the finished ones keep their results.
/// A run started with a token already cancelled starts nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use spawn::{CancelToken, Command, Error};
/// let token = CancelToken::new();
/// let remote = token.clone();
/// let canceller = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(50));
///     remote.cancel();
/// });
/// let err = Command::new("sleep").arg("30").cancel_on(&token).run().unwrap_err();
/// assert!(matches!(err, Error::Cancelled { .. }));
/// canceller.join().unwrap();
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl PartialEq for CancelToken {
    /// Clones of one token are equal.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for CancelToken {}

impl CancelToken {
    /// A token not cancelled yet.
    #[must_use]
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Cancels every run given this token, now and later. Repeating it does
    /// nothing more. Never blocks.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.bell.ring();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// The fd of the bell an engine watches (readable once cancelled),
    /// made now if needed; `None` when none can be made: then the flag is
    /// polled.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        let bell = self.inner.bell.get_or_make()?;
        // A cancel that came between the flag and the bell's creation: the
        // bell must say so too (a second ring is harmless).
        if self.is_cancelled() {
            bell.ring();
        }
        Some(bell.fd())
    }
}
