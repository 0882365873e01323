//! What every call through one fallback layer shares: the rule, the fallback, its
//! limits, its place count and what it did.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::*};

use crate::cap::Cap;
use std::time::Duration;

use crate::telemetry::{Meter, names::FALLBACK_USED};

/// Answers an error with a result of its own: implemented for closures
/// `Fn(&E) -> impl Future<Output = Result<T, E>>`. The error is lent, so that the
/// original can be returned if the fallback runs out of time or of places.
///
/// ```
/// use seawall::fallback::Recover;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cached = |_: &&str| std::future::ready(Ok::<u32, &str>(42));
/// assert_eq!(cached.recover(&"down").await, Ok(42));
/// # }
/// ```
pub trait Recover<T, E> {
    /// The fallback's answer.
    type Future: Future<Output = Result<T, E>>;

    /// Starts the fallback for `error`.
    ///
    /// ```
    /// use seawall::fallback::Recover;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let default = |_: &()| async { Ok::<&str, ()>("default") };
    /// assert_eq!(default.recover(&()).await, Ok("default"));
    /// # }
    /// ```
    fn recover(&self, error: &E) -> Self::Future;
}

impl<F, Fut, T, E> Recover<T, E> for F
where
    F: Fn(&E) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Future = Fut;

    fn recover(&self, error: &E) -> Fut {
        self(error)
    }
}

pub(crate) struct Shared<W, R> {
    pub(crate) when: W,
    pub(crate) recover: R,
    pub(crate) time_limit: Option<Duration>,
    /// Fallbacks running (at most `max_concurrent`).
    pub(crate) running: Arc<Cap>,
    pub(crate) answered: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) over_cap: AtomicU64,
    pub(crate) meter: Meter,
}

impl<W, R> std::fmt::Debug for Shared<W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("time_limit", &self.time_limit)
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

/// How a fallback ended, for the counts and the metric.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ending {
    Answered,
    TimedOut,
    OverCap,
}

impl<W, R> Shared<W, R> {
    pub(crate) fn used(&self, how: Ending) {
        let (count, label) = match how {
            Ending::Answered => (&self.answered, "answered"),
            Ending::TimedOut => (&self.timed_out, "timed_out"),
            Ending::OverCap => (&self.over_cap, "over_cap"),
        };
        count.fetch_add(1, Relaxed);
        self.meter.counter(FALLBACK_USED, &[("outcome", label)]);
    }
}

/// A fallback whose HTTP answers carry [`FromFallback`](super::FromFallback) in their
/// extensions (feature `http`), made by [`marked`](super::marked).
///
/// ```
/// use seawall::fallback::{marked, Marked};
/// let fallback: Marked<_> = marked(|_: &()| async { Ok::<_, ()>(http::Response::new(())) });
/// # let _ = fallback;
/// ```
#[cfg(feature = "http")]
#[derive(Clone, Copy, Debug)]
pub struct Marked<R>(pub(crate) R);

#[cfg(feature = "http")]
impl<R, B, E> Recover<http::Response<B>, E> for Marked<R>
where
    R: Recover<http::Response<B>, E>,
{
    type Future = MarkedFuture<R::Future>;

    fn recover(&self, error: &E) -> Self::Future {
        MarkedFuture {
            inner: self.0.recover(error),
        }
    }
}

#[cfg(feature = "http")]
pin_project_lite::pin_project! {
    /// The answer of a [`Marked`] fallback.
    ///
    /// ```
    /// use seawall::fallback::{marked, FromFallback, Recover};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cached = marked(|_: &()| async { Ok::<_, ()>(http::Response::new("cached")) });
    /// let response = cached.recover(&()).await.unwrap();
    /// assert!(response.extensions().get::<FromFallback>().is_some());
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct MarkedFuture<F> {
        #[pin]
        inner: F,
    }
}

#[cfg(feature = "http")]
impl<F, B, E> Future for MarkedFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let result = std::task::ready!(self.project().inner.poll(cx));
        std::task::Poll::Ready(result.map(|mut response| {
            response.extensions_mut().insert(super::FromFallback);
            response
        }))
    }
}
