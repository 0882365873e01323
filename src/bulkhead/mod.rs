//! A bulkhead: a cap on how many calls run at once, so that one slow dependency cannot
//! take every connection, task or thread of its caller.
//!
//! # Modes
//!
//! * [`Mode::FailFast`] (the default): `poll_ready` is the inner service's; `call` takes a
//!   free permit, or queues for one in arrival order up to
//!   [`max_wait`](Builder::max_wait) (zero, the default, means no queue) and at most
//!   [`max_queued`](Builder::max_queued) deep. A call that gets no permit resolves to a
//!   [`Rejected`] with [`Reason::BulkheadFull`] (reporting
//!   the limit), [`Reason::QueueTimeout`], or
//!   [`Reason::DeadlineExceeded`] when the call's
//!   [deadline](crate::deadline) comes first.
//! * [`Mode::Backpressure`]: `poll_ready` waits (returns `Pending`) in arrival order until
//!   a permit is free and keeps it in the service; `call` moves it into the future, like
//!   `tower::limit::ConcurrencyLimit`. The wait gives up, `poll_ready` returning a
//!   [`Rejected`], at the [deadline](crate::deadline) current in the task polling for readiness
//!   ([`Reason::DeadlineExceeded`]) or after a nonzero [`max_wait`](Builder::max_wait)
//!   ([`Reason::QueueTimeout`]), whichever comes first. Without either it waits as long
//!   as it takes, as tower's does. That deadline is set by [`deadline::scope`](crate::deadline::scope) around the
//!   code that awaits `ready()`, or by a call further out that runs this code (a handler
//!   behind [`AcceptDeadlineLayer`](crate::deadline::AcceptDeadlineLayer), a retry below
//!   a [`DeadlineLayer`](crate::deadline::DeadlineLayer)); a `DeadlineLayer` directly
//!   above the bulkhead sets its deadline for `call`, after readiness, so it does not
//!   bound this wait.
//!
//! # Guarantees
//!
//! * At most [`max_concurrent`](Builder::max_concurrent) calls hold a permit, counted over
//!   every service the layer made and every clone; the limit can change at run time
//!   through the [`BulkheadHandle`].
//! * A permit is given back when the call ends, fails, or its future is dropped, at any
//!   stage: a dropped queued call leaves the queue; a dropped service gives back the
//!   permit its `poll_ready` took, or leaves the queue it waited in; a wait that gives up
//!   leaves the queue.
//! * Taking a free permit is one compare-and-swap on one atomic word (plus a reference
//!   count on the bulkhead, which [`build_static`](Builder::build_static) removes): no lock, no
//!   allocation, no clock read, no boxed future. Only a caller that has to queue takes
//!   the queue's lock, boxes its place (in fail-fast mode; so that a call with a free
//!   permit moves a small future), and reads the clock only when its wait has a bound. The timer of
//!   a bounded wait is registered only once the caller really waits; in backpressure
//!   mode each service boxes it on its first bounded wait and reuses it after.
//! * A queued call moves the already-ready inner service into its future and leaves a
//!   clone in its place (the inner service must be `Clone`; wrap it in `tower::buffer`
//!   if it is not).
//! * `tracing` events (target `seawall::bulkhead`) on limit changes only, never per call.
//!
//! # Example
//!
//! ```
//! use seawall::bulkhead::BulkheadLayer;
//! use seawall::{AsRejected, Reason};
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let bulkhead = BulkheadLayer::builder().name("reports").max_concurrent(1).build()?;
//! let handle = bulkhead.handle();
//! let mut client = ServiceBuilder::new().layer(bulkhead).service(service_fn(|ms: u64| async move {
//!     tokio::time::sleep(Duration::from_millis(ms)).await;
//!     Ok::<_, BoxError>(ms)
//! }));
//!
//! let slow = client.ready().await?.call(1_000);
//! let err = client.ready().await?.call(1).await.unwrap_err();
//! assert_eq!(err.as_rejected().unwrap().reason(), Reason::BulkheadFull { limit: 1 });
//! assert_eq!(handle.in_flight(), 1);
//! assert_eq!(slow.await?, 1_000);
//! assert_eq!(handle.in_flight(), 0);
//! # Ok(())
//! # }
//! ```

mod builder;
mod config;
mod future;
mod handle;
mod layer;
mod wait;

use crate::homed::Anchor;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tower::Service;

pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::BulkheadConfig;
pub use future::ResponseFuture;
pub use handle::BulkheadHandle;
pub use layer::BulkheadLayer;

use crate::rejection::{CarriesRejection, Reason, Rejected};
use crate::semaphore::{Joined, MAX_PERMITS, Permit, Semaphore, Waiting};
use crate::time::LazyTimer;
use wait::{GiveUp, Wait};

/// How a full bulkhead treats a new call.
///
/// ```
/// use seawall::bulkhead::Mode;
/// assert_ne!(Mode::FailFast, Mode::Backpressure);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Mode {
    /// `call` rejects (after an optional bounded wait in a queue).
    #[default]
    FailFast,
    /// `poll_ready` waits for a permit, as `tower::limit::ConcurrencyLimit` does, until
    /// the caller's deadline or the maximum wait, if there is one.
    Backpressure,
}

/// What each service needs from the builder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) mode: Mode,
    pub(crate) max_wait: Duration,
    pub(crate) max_queued: u32,
}

/// A service whose calls share a bulkhead's permits; made by [`BulkheadLayer`].
///
/// Its error type is the inner service's, which must be able to hold a [`Rejected`]
/// (see [`rejection`](crate::rejection) for how).
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
/// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let layer = BulkheadLayer::builder().build()?;
/// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x + 1) }));
/// assert_eq!(service.ready().await?.call(1).await?, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Bulkhead<S> {
    inner: S,
    semaphore: Anchor<Semaphore>,
    settings: Settings,
    name: Arc<str>,
    /// Backpressure mode: the permit `poll_ready` took, or the wait for it.
    permit: Option<Permit>,
    wait: Option<Wait>,
    /// Backpressure mode: the timer of waits that give up, boxed by the first one that
    /// has to wait and reused by later ones.
    timer: Option<Pin<Box<LazyTimer>>>,
}

impl<S> Bulkhead<S> {
    pub(crate) fn new(
        inner: S,
        semaphore: Anchor<Semaphore>,
        settings: Settings,
        name: Arc<str>,
    ) -> Self {
        Bulkhead {
            inner,
            semaphore,
            settings,
            name,
            permit: None,
            wait: None,
            timer: None,
        }
    }

    /// A handle to read and change the bulkhead this service shares.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// # use tower::Layer;
    /// let layer = BulkheadLayer::builder().max_concurrent(3).build().unwrap();
    /// assert_eq!(layer.layer(()).handle().max_concurrent(), 3);
    /// ```
    pub fn handle(&self) -> BulkheadHandle {
        BulkheadHandle::new(self.semaphore.clone(), self.name.clone())
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// # use tower::Layer;
    /// let service = BulkheadLayer::builder().build().unwrap().layer(42_u8);
    /// assert_eq!(*service.get_ref(), 42);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// # use tower::Layer;
    /// let mut service = BulkheadLayer::builder().build().unwrap().layer(1_u8);
    /// *service.get_mut() = 2;
    /// assert_eq!(*service.get_ref(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped (a permit held by this service is given back).
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// # use tower::Layer;
    /// assert_eq!(BulkheadLayer::builder().build().unwrap().layer(7_u8).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Backpressure mode: a permit for this service, waiting in the queue for it until
    /// the wait gives up, if it has a bound.
    fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Rejected>> {
        let wait = match &mut self.wait {
            Some(wait) => wait,
            None => match self.start_wait() {
                Ok(Some(wait)) => self.wait.insert(wait),
                Ok(None) => return Poll::Ready(Ok(())),
                Err(rejected) => return Poll::Ready(Err(rejected)),
            },
        };
        let timer = &mut self.timer;
        let waited = ready!(wait.poll(cx, || {
            timer
                .get_or_insert_with(|| Box::pin(LazyTimer::new()))
                .as_mut()
        }));
        // The wait is over: leave the queue (or give back a permit granted at this very
        // moment, after giving up) and disarm the timer for the next wait.
        self.wait = None;
        if let Some(timer) = &mut self.timer {
            timer.set(LazyTimer::new());
        }
        match waited {
            Ok(permit) => {
                self.permit = Some(permit);
                Poll::Ready(Ok(()))
            }
            Err(reason) => Poll::Ready(Err(Rejected::new(reason, None))),
        }
    }

    /// Backpressure mode: takes a free permit (`Ok(None)`), or queues for one with the
    /// maximum wait and the deadline of the call being polled as its bounds.
    fn start_wait(&mut self) -> Result<Option<Wait>, Rejected> {
        if let Some(permit) = Permit::try_acquire(&self.semaphore) {
            self.permit = Some(permit);
            return Ok(None);
        }
        let give_up = GiveUp::for_wait(self.settings.max_wait).map_err(|r| self.refuse(r))?;
        match Waiting::join(&self.semaphore, MAX_PERMITS) {
            Joined::Permit(permit) => {
                self.permit = Some(permit);
                Ok(None)
            }
            Joined::Waiting(waiting) => Ok(Some(Wait { waiting, give_up })),
            Joined::Full => Err(self.refuse(self.full())),
        }
    }

    fn full(&self) -> Reason {
        let limit = self.semaphore.limit();
        Reason::BulkheadFull { limit }
    }

    /// Counts a rejection, and makes it.
    fn refuse(&self, reason: Reason) -> Rejected {
        self.semaphore.meter().rejected(reason);
        Rejected::new(reason, None)
    }
}

impl<S: Clone> Clone for Bulkhead<S> {
    /// A clone shares the bulkhead but not a permit this service holds.
    fn clone(&self) -> Self {
        Bulkhead::new(
            self.inner.clone(),
            self.semaphore.clone(),
            self.settings,
            self.name.clone(),
        )
    }
}

impl<S, Req> Service<Req> for Bulkhead<S>
where
    S: Service<Req> + Clone,
    S::Error: CarriesRejection,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, Req>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.settings.mode == Mode::Backpressure && self.permit.is_none() {
            ready!(self.poll_permit(cx))?;
        }
        self.inner.poll_ready(cx)
    }

    #[inline(always)]
    fn call(&mut self, req: Req) -> Self::Future {
        let permit = match self.permit.take() {
            Some(permit) => Some(permit),
            None => Permit::try_acquire(&self.semaphore),
        };
        match permit {
            Some(permit) => ResponseFuture::running(self.inner.call(req), permit),
            None => self.call_full(req),
        }
    }
}

impl<S> Bulkhead<S> {
    /// The cold path: no free permit. Queue (bounded by the maximum wait and the
    /// call's deadline) or reject.
    #[cold]
    fn call_full<Req>(&mut self, req: Req) -> ResponseFuture<S::Future, S, Req>
    where
        S: Service<Req> + Clone,
    {
        let max_wait = self.settings.max_wait;
        if max_wait.is_zero() {
            return self.reject(self.full());
        }
        let give_up = match GiveUp::for_wait(max_wait) {
            Ok(give_up) => give_up,
            Err(reason) => return self.reject(reason),
        };
        match Waiting::join(&self.semaphore, self.settings.max_queued) {
            Joined::Permit(permit) => ResponseFuture::running(self.inner.call(req), permit),
            Joined::Waiting(waiting) => {
                // Take the ready service along; leave an unready clone in its place.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                ResponseFuture::queued(Wait { waiting, give_up }, ready, req)
            }
            Joined::Full => self.reject(self.full()),
        }
    }

    fn reject<F, Req>(&self, reason: Reason) -> ResponseFuture<F, S, Req> {
        ResponseFuture::rejected(self.refuse(reason))
    }
}
