//! `Group::run_async` and `Group::results_async`: the group's own feeding
//! ([`GroupResults::step`](crate::group::GroupResults)) with the engine
//! driven async until a child finishes, instead of blocking.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::drive::Driver;
use crate::driver::Until;
use crate::group::{InOrder, Indexed, Step};
use crate::{Error, Group, GroupResults, Output};

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

    /// [`results`](Self::results) on tokio: a `futures_core::Stream` of
    /// `(index, result)` in the order the children finish (`index`: the
    /// command's, in the order added). Children are driven while the
    /// stream is polled. Dropping it stops the children still running with
    /// the normal teardown (the stop signal to each child and its group,
    /// the grace, KILL) and reaps them in the background; the commands not
    /// started never start.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, Group, Stdio};
    /// use std::future::poll_fn;
    /// use std::pin::pin;
    /// use futures_core::Stream;
    ///
    /// let group = Group::new().add_all(["b", "a"].map(|s| Command::new("echo").arg(s).stdout(Stdio::piped())));
    /// let mut results = pin!(group.results_async());
    /// let mut seen = Vec::new();
    /// while let Some((index, result)) = poll_fn(|cx| results.as_mut().poll_next(cx)).await {
    ///     seen.push((index, result?.stdout));
    /// }
    /// seen.sort();
    /// assert_eq!(seen, [(0, b"b\n".to_vec()), (1, b"a\n".to_vec())]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn results_async(
        self,
    ) -> impl Stream<Item = (usize, Result<Output, Error>)> + Send + 'static + use<> {
        AsyncResults::new(self.results())
    }
}

/// The stream of [`Group::results_async`].
struct AsyncResults {
    results: GroupResults<'static>,
    driver: Driver,
}

impl AsyncResults {
    fn new(results: GroupResults<'static>) -> Self {
        AsyncResults {
            results,
            driver: Driver::new("group"),
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
                    match self.driver.poll_drive(engine, Until::AnyFinished, cx) {
                        Poll::Ready(Ok(())) => {
                            let done = !engine.has_unfinished();
                            self.results.driven(done);
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
}

impl Stream for AsyncResults {
    type Item = (usize, Result<Output, Error>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.poll_result(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(e)) => Poll::Ready(this.results.fail(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}
