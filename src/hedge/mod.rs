//! Hedging (backup requests): when the first attempt is slow, send another and take
//! whichever answers first, so the latency tail of a dependency with spare capacity
//! stops being the caller's.
//!
//! # What it guarantees
//!
//! * **Bounded extra load**: each call earns a share of an attempt
//!   ([`max_extra_load`](Builder::max_extra_load), 10 % by default) and each hedge
//!   spends one; at most [`max_attempts`](Builder::max_attempts) (2 to 5) per call; no
//!   hedge when the call's deadline would pass before it could help.
//! * **The first good answer wins**; every other attempt is dropped (cancelled) at that
//!   moment, and all of them when the caller drops the call. By the classifier: an
//!   answer classified `Success` wins; `Failure` is not fatal (it waits for the other
//!   attempts, or sends the next one at once); `Ignored` — an answer about the request
//!   itself, such as a 400 or gRPC's `INVALID_ARGUMENT` — is fatal: returned at once,
//!   every other attempt cancelled (gRPC's fatal status codes).
//! * **No readiness reserved early**: a hedge polls its service's readiness only when
//!   it is about to be sent (tower's `Hedge` reserved a `Buffer` slot for each call,
//!   tower#472).
//! * **An honest delay**: fixed, or a percentile of the primary attempts' latency timed
//!   from the call's start, a primary cut off by a winning hedge counting as at least as
//!   long as it ran (tower's `Hedge` recorded only the winners, so its percentile drifted
//!   low); read with one atomic load from a lock-free histogram in microseconds.
//!
//! Costs per call: a clone of the request and of the service (to send a hedge later),
//! a reference count, and with a percentile delay a clock read at the start and the end
//! (every 256th call also recomputes the percentile: two passes over the histogram, no
//! allocation); a timer only once the first attempt is still pending; a hedge actually
//! sent is boxed (one allocation per hedge, none per call). After a failure the next
//! attempt goes at once if any of the call's deadline is left; a hedge on a slow
//! attempt needs more than the delay left.
//!
//! # Example
//!
//! ```
//! use seawall::hedge::HedgeLayer;
//! use std::time::Duration;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), seawall::ConfigError> {
//! // The first attempt of each call is stuck; the hedge after 50 ms answers.
//! let tries = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let service = service_fn(move |n: u32| {
//!     let first = tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 0;
//!     async move {
//!         if first {
//!             std::future::pending::<()>().await;
//!         }
//!         Ok::<_, ()>(n)
//!     }
//! });
//! let hedged = HedgeLayer::builder().delay(Duration::from_millis(50)).build()?.layer(service);
//! let started = tokio::time::Instant::now();
//! assert_eq!(hedged.oneshot(7).await, Ok(7));
//! assert_eq!(started.elapsed(), Duration::from_millis(50));
//! # Ok(())
//! # }
//! ```

mod builder;
#[cfg(feature = "serde")]
mod config;
mod future;
mod histogram;
mod policy;
mod state;

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

pub use builder::{Builder, HedgeLayer};
#[cfg(feature = "serde")]
pub use config::HedgeOverrides;
pub use future::ResponseFuture;
pub use policy::{AnyRequest, HedgePolicy};
#[cfg(feature = "http")]
pub use policy::{GrpcAttempts, HttpIdempotent};

use state::{Delay, Shared};

/// A service whose slow calls are hedged (see the [module](self)). Made by
/// [`HedgeLayer`]; needs a `Clone` service and request.
///
/// ```
/// # use seawall::hedge::HedgeLayer;
/// # use tower::Layer;
/// let service = HedgeLayer::builder().build()?.layer(tower::service_fn(|n: u8| async move { Ok::<_, ()>(n) }));
/// # let _ = service;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Hedge<S, C = crate::ErrorsAreFailures, P = AnyRequest> {
    inner: S,
    shared: Arc<Shared>,
    classifier: C,
    policy: P,
}

impl<S, C, P> Hedge<S, C, P> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use tower::Layer;
    /// assert_eq!(*HedgeLayer::builder().build()?.layer(5_u8).get_ref(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::hedge::HedgeLayer;
    /// # use tower::Layer;
    /// assert_eq!(HedgeLayer::builder().build()?.layer(5_u8).into_inner(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, P, Req> Service<Req> for Hedge<S, C, P>
where
    S: Service<Req> + Clone,
    Req: Clone,
    C: crate::Classify<S::Response, S::Error> + Clone,
    P: HedgePolicy<Req> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req, C, P>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        self.shared.earn();
        let started =
            matches!(self.shared.delay, Delay::Percentile { .. }).then(tokio::time::Instant::now);
        let hedgeable = self.policy.may_hedge(&request);
        let primary = self.inner.call(request.clone());
        ResponseFuture::new(
            primary,
            self.inner.clone(),
            request,
            (self.classifier.clone(), self.policy.clone()),
            self.shared.clone(),
            started,
            hedgeable,
        )
    }
}
