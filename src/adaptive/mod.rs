//! Adaptive concurrency limits: a cap on calls in flight that moves with the latency and
//! failures the dependency shows, so that an overloaded dependency is given room to
//! recover and a healthy one is not held back.
//!
//! Three algorithms, all from Netflix's concurrency-limits library and with its defaults
//! (initial limit 20, minimum 20, maximum 200):
//!
//! * [`Aimd`]: loss-based. +1 after a success that found the limiter at least half busy,
//!   × 0.9 after a failure or a call slower than 5 s.
//! * [`Gradient2`]: latency-based. Shrinks the limit when calls get slower than the
//!   long-term average by more than a tolerance (1.5×), grows it by a small headroom (4)
//!   while latency holds; smoothing 0.2, long-term window 600 calls.
//! * [`Vegas`]: latency-based, after TCP Vegas. Estimates the calls queueing at the
//!   dependency from how much slower a call is than the fastest one seen, and keeps that
//!   queue between 3 and 6 × log10(limit); failures shrink the limit too. The fastest
//!   latency is measured afresh every 30 × limit calls.
//!
//! A call over the limit resolves at once to a [`Rejected`](crate::Rejected) with
//! [`Reason::ConcurrencyLimited`](crate::Reason::ConcurrencyLimited), which reports the
//! limit at that time. Failures are decided by the shared
//! [classification](crate::classify); ignored outcomes and dropped futures give the
//! permit back without moving the limit.
//!
//! # Guarantees
//!
//! * Permits come from the same lock-free semaphore as the [bulkhead](crate::bulkhead):
//!   taking one is one compare-and-swap. Each call reads the clock twice (its latency is
//!   the algorithms' input) and updates the estimate by compare-and-swap: no lock, no
//!   allocation, no boxed future.
//! * The limit stays within `min_limit..=max_limit`; read it through the
//!   [`AdaptiveLimitHandle`]. A `tracing` event at debug level (target
//!   `seawall::adaptive`, `event.name` `seawall.adaptive.limit_changed`, fields
//!   `seawall.name`, `from`, `to`, `rtt_us`, `dropped`; see [`telemetry`](crate::telemetry)) is emitted
//!   each time the integer limit changes, never otherwise.
//!
//! # Example
//!
//! ```
//! use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let limit = AdaptiveLimitLayer::builder(Aimd::default()).min_limit(1).build()?;
//! let handle = limit.handle();
//! let mut client = ServiceBuilder::new()
//!     .layer(limit)
//!     .service(service_fn(|_: ()| async { Err::<(), BoxError>("overloaded".into()) }));
//!
//! for _ in 0..10 {
//!     let _ = client.ready().await?.call(()).await;
//! }
//! assert!(handle.limit() < 20, "failures shrink the limit");
//! # Ok(())
//! # }
//! ```

mod algorithm;
mod builder;
mod config;
mod future;
mod handle;
mod layer;
mod state;

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::Service;

pub use algorithm::{Aimd, Algorithm, Gradient2, Vegas};
pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::AdaptiveConfig;
pub use future::ResponseFuture;
pub use handle::AdaptiveLimitHandle;
pub use layer::AdaptiveLimitLayer;

use crate::classify::{Classify, ErrorsAreFailures};
use crate::rejection::CarriesRejection;
use crate::semaphore::Permit;
use future::Call;
use state::Limiter;

/// A service whose calls share an adaptive concurrency limit; made by
/// [`AdaptiveLimitLayer`].
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Gradient2};
/// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let layer = AdaptiveLimitLayer::builder(Gradient2::default()).build()?;
/// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x + 1) }));
/// assert_eq!(service.ready().await?.call(1).await?, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimit<S, C = ErrorsAreFailures> {
    inner: S,
    limiter: Arc<Limiter>,
    classifier: C,
}

impl<S, C> AdaptiveLimit<S, C> {
    pub(crate) fn new(inner: S, limiter: Arc<Limiter>, classifier: C) -> Self {
        AdaptiveLimit {
            inner,
            limiter,
            classifier,
        }
    }

    /// A handle to read the limit this service shares.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// # use tower::Layer;
    /// let service = AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap().layer(());
    /// assert_eq!(service.handle().limit(), 20);
    /// ```
    pub fn handle(&self) -> AdaptiveLimitHandle {
        AdaptiveLimitHandle {
            limiter: self.limiter.clone(),
        }
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// # use tower::Layer;
    /// let service = AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap().layer(3_u8);
    /// assert_eq!(*service.get_ref(), 3);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// # use tower::Layer;
    /// let mut service = AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap().layer(3_u8);
    /// *service.get_mut() = 4;
    /// assert_eq!(*service.get_ref(), 4);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// # use tower::Layer;
    /// let service = AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap().layer(3_u8);
    /// assert_eq!(service.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for AdaptiveLimit<S, C>
where
    S: Service<Req>,
    S::Error: CarriesRejection,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        let semaphore = &self.limiter.semaphore;
        let Some(permit) = Permit::try_acquire(semaphore) else {
            let limit = semaphore.limit();
            semaphore
                .meter()
                .rejected(crate::Reason::ConcurrencyLimited { limit });
            return ResponseFuture::rejected(limit);
        };
        let call = Call {
            limiter: self.limiter.clone(),
            classifier: self.classifier.clone(),
            permit,
            started: Instant::now(),
            in_flight: semaphore.in_flight(),
        };
        ResponseFuture::running(self.inner.call(req), call)
    }
}
