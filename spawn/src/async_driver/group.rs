//! `Group::run_async` and `Group::results_async`: the group's own feeding
//! ([`GroupResults::step`](crate::group::GroupResults)) with the engine
//! driven async until a child finishes, instead of blocking.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::drive::Waiter;
use crate::driver::Until;
use crate::group::{InOrder, Indexed, Step};
use crate::{Error, Group, GroupResults, Output};

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Group {
    /// [`run`](Self::run) on tokio: every command, results in the order
    /// added, driven without blocking the thread. Dropping the future stops
    /// the children still running with the normal teardown, in the
    /// background; the commands not started never start.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, Group, Stdio};
    /// let results = Group::new()
    ///     .max_running(4)
    ///     .add_all((1..=8).map(|i| Command::new("echo").arg(i.to_string()).stdout(Stdio::piped())))
    ///     .run_async()
    ///     .await?;
    /// assert_eq!(results[7].as_ref().unwrap().stdout, b"8\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_async(
        &self,
    ) -> impl Future<Output = Result<Vec<Result<Output, Error>>, Error>> + Send + 'static + use<>
    {
        let group = self.clone();
        async move {
            let mut results = AsyncResults::new(group.results());
            let mut all = InOrder::default();
            while let Some(r) = poll_fn(|cx| results.poll_result(cx)).await? {
                all.put(r);
            }
            Ok(all.into_vec())
        }
    }

    /// [`results`](Self::results) on tokio: `(index, result)` in the order
    /// the children finish (`index`: the command's, in the order added),
    /// taken one at a time with [`AsyncGroupResults::next`]`.await` (it is
    /// also a `futures_core::Stream`). Children are driven while it is
    /// awaited. Dropping it stops the children still running with the
    /// normal teardown (the stop signal to each child and its group, the
    /// grace, KILL) and reaps them in the background; the commands not
    /// started never start.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, Group, Stdio};
    ///
    /// let group = Group::new().add_all(["b", "a"].map(|s| Command::new("echo").arg(s).stdout(Stdio::piped())));
    /// let mut results = group.results_async();
    /// let mut seen = Vec::new();
    /// while let Some((index, result)) = results.next().await {
    ///     seen.push((index, result?.stdout));
    /// }
    /// seen.sort();
    /// assert_eq!(seen, [(0, b"b\n".to_vec()), (1, b"a\n".to_vec())]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn results_async(self) -> AsyncGroupResults {
        AsyncGroupResults(AsyncResults::new(self.results()))
    }
}

/// The results of a [`Group`] on tokio, as they come
/// ([`Group::results_async`]): take them with [`next`](Self::next)`.await`,
/// or poll it as a `futures_core::Stream`. `Send + 'static`, `Unpin`.
///
/// Dropping it stops the children still running (the stop signal to each
/// child and its group, the grace, KILL) and reaps them in the background;
/// the commands not started never start.
pub struct AsyncGroupResults(AsyncResults);

impl fmt::Debug for AsyncGroupResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncGroupResults").finish_non_exhaustive()
    }
}

impl AsyncGroupResults {
    /// The next child to finish: `Some((index, result))` (`index`: the
    /// command's, in the order added), `None` once every command has
    /// finished. Cancel-safe: dropping the future before it completes (a
    /// `select!`, a `tokio::time::timeout`) loses no result; the children
    /// keep running, and the next call carries on.
    ///
    /// When the driver itself fails (e.g. outside a runtime), every
    /// command not finished yet comes with that error.
    pub async fn next(&mut self) -> Option<(usize, Result<Output, Error>)> {
        poll_fn(|cx| self.0.poll_item(cx)).await
    }
}

impl Stream for AsyncGroupResults {
    type Item = (usize, Result<Output, Error>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_item(cx)
    }
}

/// A group's results driven on the runtime.
struct AsyncResults {
    results: GroupResults<'static>,
    waiter: Waiter,
}

impl AsyncResults {
    fn new(results: GroupResults<'static>) -> Self {
        AsyncResults {
            results,
            waiter: Waiter::new("group"),
        }
    }

    /// The next result; `Err` when the driver itself failed (`run_async`
    /// returns it, the stream gives every child it held that error).
    fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Indexed>, Error>> {
        loop {
            match self.results.step() {
                Step::Item(r) => return Poll::Ready(Ok(Some(r))),
                Step::End => return Poll::Ready(Ok(None)),
                Step::Drive => {
                    let Some(engine) = self.results.engine_mut() else {
                        continue;
                    };
                    match self.waiter.poll_drive(engine, Until::AnyFinished, cx) {
                        Poll::Ready(Ok(())) => {
                            let done = !engine.slots.has_unfinished();
                            self.results.driven(done);
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }

    /// The next item, a driver failure given to the children it held.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Indexed>> {
        match self.poll_result(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(e)) => Poll::Ready(self.results.fail(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
