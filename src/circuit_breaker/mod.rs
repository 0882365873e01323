//! A circuit breaker: stop calling a dependency that is failing, and find out cheaply
//! when it has recovered.
//!
//! # States
//!
//! * **Closed**: calls flow and are judged by a sliding window — the last N calls
//!   ([`count_window`](Builder::count_window), the default), the last T of time
//!   ([`time_window`](Builder::time_window)), or a run of
//!   [`consecutive_failures`](Builder::consecutive_failures). Once at least
//!   [`minimum_calls`](Builder::minimum_calls) were counted, a failure rate or slow-call
//!   rate at or above its threshold opens the breaker.
//! * **Open**: calls fail at once with a [`Rejected`] whose
//!   [`retry_after`](Rejected::retry_after) is the time left open. The open
//!   duration can grow on repeated trips ([`open_backoff`](Builder::open_backoff)).
//! * **Half-open**: up to [`half_open_calls`](Builder::half_open_calls) probes run;
//!   other calls are rejected at once. A probe holds its slot until it finishes or is
//!   dropped, even past the end of its half-open period, so probes that hang never add
//!   up beyond that number across periods: a probe that never ends keeps its slot for
//!   good, so bound every call in time (an attempt timeout or a deadline, as the
//!   standard pipeline does). The probes' rates decide, by the same thresholds: close
//!   (with an empty window) or open again. If every slot is still taken
//!   [`max_wait_in_half_open`](Builder::max_wait_in_half_open) after it half-opened, the
//!   next call opens it again, for the open duration.
//! * **Forced open**, **disabled**, **metrics only**: manual states, set through the
//!   [`CircuitBreakerHandle`].
//!
//! # Guarantees
//!
//! * Every call resolves: to the inner service's result, or to `E::from(Rejected)`.
//! * State is created by [`Builder::build`]; all services of a layer and all their
//!   clones share it.
//! * A call's future that is dropped records nothing and frees its probe slot.
//! * A breaker that would reject fails fast even when the inner service is not ready
//!   (a full buffer, a hung connection pool): `poll_ready` then returns ready at once
//!   and the call is rejected without reaching the inner service, as tower's `LoadShed`
//!   does. That call gets that refusal even if the breaker closes before the call is
//!   made, since the inner service was never ready for it. A breaker that would admit
//!   waits for the inner service, probes included.
//! * A call admitted before a state change does not count after it.
//! * Time is kept to the millisecond and always rounded against ending early: an open
//!   period lasts at least its open duration (and less than 1 ms more; after a failed
//!   probe, with [`steady_probing`](Builder::steady_probing), counted from the probe's
//!   start), a half-open
//!   period is abandoned only after at least the maximum wait, and a call counts as
//!   slow only if it took at least the slow-call duration (its start is rounded up, so
//!   one that took less than 1 ms more may not count).
//! * The closed path takes no lock, allocates nothing and boxes no future; a count or
//!   consecutive breaker without slow-call detection never reads the clock while closed.
//!   Cloning a service allocates nothing (a retry above the breaker clones it on every
//!   call). Each call holds a reference count on the breaker until it ends, and a count
//!   serves one thread: making a service (`Layer::layer`) allocates one small record
//!   (four words with the default classifier), and so does, once, a service's second
//!   call from a thread other than its count's, so that services kept on different
//!   threads never contend on one count. A clone made for a single call shares its
//!   original's count (it never allocates; it may contend, as any `Arc` does). A breaker
//!   from [`build_static`](Builder::build_static) has no count and allocates nothing at
//!   all.
//! * While open, a call is rejected without reading the clock: when the breaker opens
//!   inside a tokio runtime it sets a timer on that runtime for the end of the open
//!   period, and until the timer fires a rejection is one atomic load. The first call
//!   after the timer fires reads the clock and becomes a probe (tokio's timers have
//!   millisecond ticks, so half-open can begin up to a tick late). The runtime must have
//!   its timer enabled (`enable_time` or `enable_all`, as `#[tokio::main]` does) and,
//!   as for any tokio timer, must not be shutting down when the breaker opens; for a
//!   runtime without a timer, turn [`open_timer`](Builder::open_timer) off. If
//!   that runtime is not running when the period ends (one kept for `block_on` from
//!   synchronous code) or is gone, the breaker still half-opens: a runtime's shutdown
//!   ends the shortcut, and one rejection in 64 on each thread reads the clock anyway.
//!   Opened outside any runtime, every rejection reads the clock.
//! * `tracing` events (target `seawall::circuit_breaker`), transition metrics and the
//!   state-change listener report real changes of state only: manual control that
//!   leaves the state as it was reports nothing.
//!
//! # Outside tower
//!
//! Code that is not a tower service (a synchronous client, a stream, a driver with its
//! own API) asks the same breaker through its handle:
//! [`try_acquire`](CircuitBreakerHandle::try_acquire) gives a [`CallPermit`] to report
//! the outcome with, or the rejection a call would get.
//!
//! # Example
//!
//! ```
//! use seawall::circuit_breaker::{CircuitBreakerLayer, State};
//! use seawall::{AsRejected, RejectedBy};
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let breaker = CircuitBreakerLayer::builder()
//!     .name("flaky")
//!     .open_duration(Duration::from_secs(30))
//!     .build()?;
//! let handle = breaker.handle();
//!
//! let mut client = ServiceBuilder::new()
//!     .layer(breaker)
//!     .service(service_fn(|_: ()| async { Err::<(), BoxError>("connection refused".into()) }));
//!
//! // A dependency that refuses every connection: 14 failures in a row prove, at the
//! // default 99.99 % confidence, that its failure rate is at least the 50 % threshold.
//! for _ in 0..14 {
//!     let _ = client.ready().await?.call(()).await;
//! }
//! assert_eq!(handle.state(), State::Open);
//!
//! let err = client.ready().await?.call(()).await.unwrap_err();
//! let rejected = err.as_rejected().expect("the breaker refused");
//! assert_eq!(rejected.layer(), RejectedBy::CircuitBreaker);
//! // The time left open: at most the open duration (kept to the millisecond, rounded up).
//! assert!(rejected.retry_after().unwrap() <= Duration::from_millis(30_001));
//! # Ok(())
//! # }
//! ```

mod alarm;
mod builder;
mod config;
mod engine;
mod events;
mod evidence;
#[cfg(feature = "redis")]
mod fleet;
mod future;
mod group;
mod handle;
mod layer;
mod link;
#[cfg(all(test, seawall_loom))]
mod models;
mod open_settings;
mod permit;
mod settings;
mod window;
mod word;

use std::task::{Context, Poll};

use tower::Service;

pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::CircuitBreakerOverrides;
pub use config::{CircuitBreakerConfig, OpenBackoffConfig, WindowConfig};
pub use events::StateChange;
pub use future::ResponseFuture;
pub use group::Group;
pub use handle::{CircuitBreakerHandle, Metrics};
pub use layer::CircuitBreakerLayer;
pub use permit::{CallPermit, OwnedCallPermit};
pub use word::State;

use crate::classify::{Classify, ErrorsAreFailures};
use crate::rejection::{CarriesRejection, Rejected};
use future::Call;
pub(crate) use link::Link;

/// A service guarded by a circuit breaker; made by [`CircuitBreakerLayer`].
///
/// Its error type is the inner service's, which must be able to hold a
/// [`Rejected`] (see [`rejection`](crate::rejection) for how).
///
/// ```
/// use seawall::circuit_breaker::CircuitBreakerLayer;
/// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let layer = CircuitBreakerLayer::builder().build()?;
/// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x + 1) }));
/// assert_eq!(service.ready().await?.call(1).await?, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct CircuitBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    link: Link<C>,
    /// Set by `poll_ready` when the inner service was not ready and the breaker would
    /// reject anyway: the next call is this rejection, and the inner service is not
    /// called.
    refused: Option<Rejected>,
}

impl<S, C> CircuitBreaker<S, C> {
    pub(crate) fn new(inner: S, link: Link<C>) -> Self {
        CircuitBreaker {
            inner,
            link,
            refused: None,
        }
    }

    /// A handle to read and steer the breaker this service shares.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// # use tower::{service_fn, BoxError, Layer};
    /// let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// let service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// assert_eq!(service.handle().state(), State::Closed);
    /// ```
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.link.for_handle())
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use tower::{service_fn, BoxError, Layer};
    /// # let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// let service = layer.layer(42_u8);
    /// assert_eq!(*service.get_ref(), 42);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use tower::Layer;
    /// # let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// let mut service = layer.layer(1_u8);
    /// *service.get_mut() = 2;
    /// assert_eq!(*service.get_ref(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use tower::Layer;
    /// # let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// assert_eq!(layer.layer(7_u8).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C> CircuitBreaker<S, C> {
    /// The call after `poll_ready` found the inner service not ready and the breaker
    /// rejecting: the inner service is not called, and the rejection is counted now.
    #[cold]
    fn refuse<F>(&mut self, rejection: Rejected) -> ResponseFuture<F, C> {
        self.refused = None;
        self.link.engine().meter().rejected(rejection.reason());
        ResponseFuture::rejected(rejection)
    }
}

impl<S: Clone, C: Clone> Clone for CircuitBreaker<S, C> {
    fn clone(&self) -> Self {
        // A clone shares this service's reference count: cloning allocates nothing
        // (a retry above the breaker clones it on every call). A clone has not been
        // polled ready, whatever this service was told.
        CircuitBreaker::new(self.inner.clone(), self.link.share())
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: CarriesRejection,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    /// Ready when the inner service is, or at once when the inner service is not ready
    /// but the breaker would reject the call anyway (as tower's `LoadShed` does): an open
    /// breaker fails fast even in front of a saturated or hung service.
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.inner.poll_ready(cx) {
            // Once ready, ready until the call (tower's rule), whatever the breaker does.
            Poll::Pending if self.refused.is_some() => Poll::Ready(Ok(())),
            Poll::Pending => match self.link.engine().would_reject() {
                Some(rejection) => {
                    self.refused = Some(rejection);
                    Poll::Ready(Ok(()))
                }
                None => Poll::Pending,
            },
            ready => {
                if self.refused.is_some() {
                    self.refused = None; // not written on every call
                }
                ready
            }
        }
    }

    #[inline(always)]
    fn call(&mut self, req: Req) -> Self::Future {
        if let Some(rejection) = self.refused {
            return self.refuse(rejection);
        }
        // Before admitting: a probe slot is never taken by a call that cannot start.
        self.link.come_home();
        match self.link.engine().admit() {
            Ok(permit) => {
                let call = Call {
                    link: self.link.share(),
                    permit,
                };
                ResponseFuture::running(self.inner.call(req), call)
            }
            Err(rejection) => ResponseFuture::rejected(rejection),
        }
    }
}
