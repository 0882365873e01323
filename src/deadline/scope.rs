//! The future that runs a call with a deadline: the earliest of its own and the one
//! current wherever it is polled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::{DEADLINE, earliest};

pin_project! {
    /// The future of [`scope`](super::scope): runs the inner future with the earliest of
    /// its own deadline and the deadline current where it is polled.
    ///
    /// The outer deadline is read at every poll, not when the future is made, so a
    /// future made outside a tighter scope and awaited inside it keeps the tighter one.
    /// Once shortened, its deadline stays short.
    ///
    /// ```
    /// use seawall::deadline;
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let soon = Instant::now() + Duration::from_secs(1);
    /// let later = deadline::scope(soon + Duration::from_secs(60), async { deadline::current() });
    /// // Made outside, awaited inside the earlier deadline: the earlier one wins.
    /// assert_eq!(deadline::scope(soon, later).await, Some(soon));
    /// # }
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scope<F> {
        #[pin]
        inner: F,
        deadline: Instant,
    }
}

impl<F> Scope<F> {
    pub(crate) fn new(deadline: Instant, inner: F) -> Self {
        Scope { inner, deadline }
    }

    /// The deadline as of the last poll: never later than the one it was made with.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl<F: Future> Future for Scope<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        *this.deadline = earliest(*this.deadline);
        let inner = this.inner;
        DEADLINE.sync_scope(*this.deadline, || inner.poll(cx))
    }
}
