//! A rate limiter: at most N calls per period, with bursts, shared by every clone.
//!
//! The limiter is GCRA (the generic cell rate algorithm, as in ATM networks and the
//! `governor` crate): its whole state is one atomic word, the time at which it would be
//! empty again. A call is one clock read, one load and one compare-and-swap; no lock, no
//! allocation, no boxed future. (A call that waits for its slot boxes its waiting state
//! once, so that a call allowed at once moves a small future.) The clock is tokio's, so
//! paused time in tests drives the limiter; with the `fast-clock` feature,
//! `Builder::fast_clock` reads the CPU's time-stamp counter instead.
//!
//! # Modes
//!
//! * **Reject** ([`max_wait`](Builder::max_wait) zero, the default): a call over the rate
//!   resolves at once to a [`Rejected`] with [`Reason::RateLimited`]
//!   and a [`retry_after`](Rejected::retry_after) of when its slot would come.
//! * **Wait** (a non-zero maximum wait): a call reserves the next free slot and waits for
//!   it, if that is within the maximum wait and before the call's
//!   [deadline](crate::deadline); otherwise it is rejected at once, as above. A waiting call
//!   moves the already-ready inner service into its future and leaves a clone in its place
//!   (the inner service must be `Clone`). Dropped while waiting, it gives its slot back
//!   if no later call has reserved one behind it; otherwise that slot goes unused.
//!
//! # Guarantee
//!
//! With `permits` per `per` and a burst of `b`, the calls let through (at once, or when
//! their wait ends) in any interval of length `w` number at most
//! `b + ⌊w · permits / per⌋`, whatever the pattern of waiting calls dropped: a slot is
//! issued once at most, so cancelling can only ever leave a slot unused.
//! (`tests/rate_limit/property.rs` checks this under random arrivals and drops.)
//!
//! `poll_ready` is the inner service's: the limiter never makes a service unready.
//!
//! # Example
//!
//! ```
//! use seawall::rate_limit::RateLimitLayer;
//! use seawall::{AsRejected, Reason};
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let limit = RateLimitLayer::builder(2, Duration::from_secs(1)).build()?;
//! let mut client = ServiceBuilder::new()
//!     .layer(limit)
//!     .service(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
//!
//! client.ready().await?.call(1).await?;
//! client.ready().await?.call(2).await?;
//! let err = client.ready().await?.call(3).await.unwrap_err();
//! let rejected = err.as_rejected().unwrap();
//! assert_eq!(rejected.reason(), Reason::RateLimited);
//! assert_eq!(rejected.retry_after(), Some(Duration::from_millis(500)));
//! # Ok(())
//! # }
//! ```

mod builder;
mod config;
#[cfg(feature = "redis")]
mod fleet;
mod future;
mod gcra;
mod handle;
mod layer;
#[cfg(all(test, seawall_loom))]
mod models;

use crate::telemetry::{SharedMeter, shared_meter};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::Service;

pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::RateLimitConfig;
pub use future::ResponseFuture;
pub use handle::RateLimitHandle;
pub use layer::RateLimitLayer;

use crate::context;
use crate::rejection::{CarriesRejection, Reason, Rejected};
use future::Reservation;
use gcra::{Gcra, nanos};

/// A service whose calls share a rate limit; made by [`RateLimitLayer`].
///
/// ```
/// use seawall::rate_limit::RateLimitLayer;
/// use std::time::Duration;
/// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let layer = RateLimitLayer::builder(10, Duration::from_secs(1)).build()?;
/// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x + 1) }));
/// assert_eq!(service.ready().await?.call(1).await?, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    gcra: Arc<Gcra>,
    max_wait: Duration,
    name: Arc<str>,
    meter: SharedMeter,
}

impl<S> RateLimit<S> {
    pub(crate) fn new(inner: S, gcra: Arc<Gcra>, max_wait: Duration, name: Arc<str>) -> Self {
        RateLimit {
            meter: shared_meter(crate::RejectedBy::RateLimiter.as_str(), &name),
            inner,
            gcra,
            max_wait,
            name,
        }
    }

    /// A handle to read and change the rate this service shares.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// # use tower::Layer;
    /// let layer = RateLimitLayer::builder(7, Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(layer.layer(()).handle().rate().0, 7);
    /// ```
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle::new(self.gcra.clone(), self.name.clone())
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// # use tower::Layer;
    /// let service = RateLimitLayer::builder(1, Duration::from_secs(1)).build().unwrap().layer(4_u8);
    /// assert_eq!(*service.get_ref(), 4);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// # use tower::Layer;
    /// let mut service = RateLimitLayer::builder(1, Duration::from_secs(1)).build().unwrap().layer(4_u8);
    /// *service.get_mut() = 5;
    /// assert_eq!(*service.get_ref(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// # use tower::Layer;
    /// let service = RateLimitLayer::builder(1, Duration::from_secs(1)).build().unwrap().layer(4_u8);
    /// assert_eq!(service.into_inner(), 4);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req> Service<Req> for RateLimit<S>
where
    S: Service<Req> + Clone,
    S::Error: CarriesRejection,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, Req>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline(always)]
    fn call(&mut self, req: Req) -> Self::Future {
        #[cfg(feature = "redis")]
        if let Some(lease) = self.gcra.lease.get()
            && lease.active()
        {
            if lease.take() {
                return ResponseFuture::running(self.inner.call(req));
            }
            self.meter.rejected(Reason::RateLimited);
            let hint = Some(lease.retry_after());
            return ResponseFuture::rejected(Rejected::new(Reason::RateLimited, hint));
        }
        let now = self.gcra.now_ns();
        let max_wait = if self.max_wait.is_zero() {
            0
        } else {
            match context::remaining() {
                Some(left) if left.is_zero() => {
                    self.meter.rejected(Reason::DeadlineExceeded);
                    let rejection = Rejected::new(Reason::DeadlineExceeded, None);
                    return ResponseFuture::rejected(rejection);
                }
                Some(left) => nanos(left.min(self.max_wait)),
                None => nanos(self.max_wait),
            }
        };
        match self.gcra.acquire(now, max_wait) {
            Ok(slot) if slot.wait_ns == 0 => ResponseFuture::running(self.inner.call(req)),
            Ok(slot) => {
                let at = self.gcra.wake_at(now, slot.wait_ns);
                let reservation = Reservation {
                    gcra: self.gcra.clone(),
                    slot: Some(slot),
                };
                // Take the ready service along; leave an unready clone in its place.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                ResponseFuture::waiting(tokio::time::sleep_until(at), reservation, ready, req)
            }
            Err(wait_ns) => {
                let retry_after = Duration::from_nanos(wait_ns);
                self.meter.rejected(Reason::RateLimited);
                ResponseFuture::rejected(Rejected::new(Reason::RateLimited, Some(retry_after)))
            }
        }
    }
}
