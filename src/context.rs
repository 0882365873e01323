//! What a call carries through every layer inside it: its deadline, set on the
//! thread while the call's layers run. The public face is [`crate::deadline`]; layers that wait (retry,
//! bulkhead, rate limit) read it from here.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

thread_local! {
    /// The deadline of the call being run on this thread. A call's deadline is set only
    /// while one of its layers is inside a synchronous `call` or `poll` (restored on the
    /// way out, by a guard, even on a panic), so it follows the call from task to task
    /// and thread to thread as its future moves, exactly as a task-local would, without
    /// a task-local's cost.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Puts the previous deadline back when dropped.
struct Restore(Option<Instant>);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        DEADLINE.with(|current| current.set(self.0));
    }
}

/// Makes `deadline` the current one until the guard is dropped.
#[inline]
fn set(deadline: Instant) -> Restore {
    Restore(DEADLINE.with(|current| current.replace(Some(deadline))))
}

/// The deadline of the call being run here (polled or called on this thread), if any.
///
/// ```
/// assert_eq!(seawall::deadline::current(), None);
/// ```
#[inline]
pub fn current() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

/// Time left until the current deadline: `None` without a deadline, zero once it passed.
///
/// ```
/// assert_eq!(seawall::deadline::remaining(), None);
/// ```
pub fn remaining() -> Option<std::time::Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// Runs `future` with `deadline`, or with the deadline current where the scope is made
/// or wherever it is polled, if that is earlier.
///
/// The outer deadline is taken when the scope is made and again at every poll, so a
/// scope can never extend one it is made or awaited in (also when it is spawned onto
/// another task): a nested deadline can only shorten.
///
/// ```
/// use seawall::deadline;
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let left = deadline::scope(tokio::time::Instant::now() + Duration::from_secs(1), async {
///     deadline::remaining()
/// })
/// .await;
/// assert!(left.unwrap() <= Duration::from_secs(1));
/// # }
/// ```
pub fn scope<F: Future>(deadline: Instant, future: F) -> Scope<F> {
    Scope::new(earliest(deadline), future)
}

/// `deadline`, or the current deadline if that is earlier.
pub(crate) fn earliest(deadline: Instant) -> Instant {
    match current() {
        Some(outer) if outer < deadline => outer,
        _ => deadline,
    }
}

/// Runs `f` (a service's synchronous `call`) with `deadline` already the current one.
#[inline(always)]
pub(crate) fn enter<R>(deadline: Instant, f: impl FnOnce() -> R) -> R {
    let _restore = set(deadline);
    f()
}

/// Whether waiting `wait` from now would end past the current deadline.
///
/// ```
/// use std::time::Duration;
/// // No deadline: any wait fits.
/// assert!(!seawall::deadline::would_exceed(Duration::from_secs(3600)));
/// ```
pub fn would_exceed(wait: Duration) -> bool {
    remaining().is_some_and(|left| wait > left)
}

pin_project! {
    /// The future of [`scope`]: runs the inner future with the earliest of
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
        let _restore = set(*this.deadline);
        this.inner.poll(cx)
    }
}
