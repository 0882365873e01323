//! Attempt timeout: fail one attempt that takes too long.
//!
//! An attempt timeout bounds a single try at the inner service. It belongs *under* a
//! retry layer (each attempt gets its own timeout) and under the circuit breaker (so a
//! timed-out attempt counts as a failure). To bound the whole call — every attempt,
//! backoff sleep and queue wait — use a [`Deadline`](crate::deadline::Deadline) above
//! the retry layer instead.
//!
//! # Guarantees
//!
//! * An attempt that takes longer than its timeout resolves to
//!   `E::from(Rejected)` with [`Reason::AttemptTimeout`](crate::Reason::AttemptTimeout),
//!   and the inner future is dropped (cancelled) at that moment.
//! * A call whose inner future is ready on its first poll registers no timer and reads
//!   no clock. The timer starts at the first poll that has to wait.
//! * Dropping the future drops the timer and the inner future.
//!
//! # Example
//!
//! ```
//! use seawall::timeout::AttemptTimeoutLayer;
//! use seawall::{AsRejected, Reason};
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let mut client = ServiceBuilder::new()
//!     .layer(AttemptTimeoutLayer::new(Duration::from_millis(100))?)
//!     .service(service_fn(|delay_ms: u64| async move {
//!         tokio::time::sleep(Duration::from_millis(delay_ms)).await;
//!         Ok::<_, BoxError>("done")
//!     }));
//!
//! assert_eq!(client.ready().await?.call(10).await?, "done");
//! let err = client.ready().await?.call(500).await.unwrap_err();
//! assert_eq!(
//!     err.as_rejected().unwrap().reason(),
//!     Reason::AttemptTimeout { after: Duration::from_millis(100) }
//! );
//! # Ok(())
//! # }
//! ```

mod future;
mod layer;

use std::task::{Context, Poll};

use tower::Service;

pub use crate::limit::TimeLimitHandle;
pub use future::ResponseFuture;
pub use layer::{AttemptTimeoutLayer, NoOverride, TimeoutFor};
#[cfg(feature = "http")]
pub use layer::{FromExtension, TimeoutOverride};

use crate::rejection::CarriesRejection;
use crate::telemetry::SharedMeter;

/// A service whose attempts time out; made by [`AttemptTimeoutLayer`].
///
/// ```
/// use seawall::timeout::AttemptTimeoutLayer;
/// use std::time::Duration;
/// use tower::Layer;
///
/// let layer = AttemptTimeoutLayer::new(Duration::from_secs(2)).unwrap();
/// let service = layer.layer(tower::service_fn(|()| async { Ok::<_, tower::BoxError>(()) }));
/// # let _ = service;
/// ```
#[derive(Clone, Debug)]
pub struct AttemptTimeout<S, P = NoOverride> {
    inner: S,
    timeout: crate::limit::SharedLimit,
    per_request: P,
    meter: SharedMeter,
}

impl<S, P> AttemptTimeout<S, P> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::timeout::AttemptTimeoutLayer;
    /// # use tower::Layer;
    /// let service = AttemptTimeoutLayer::new(std::time::Duration::from_secs(1)).unwrap().layer(5_u8);
    /// assert_eq!(*service.get_ref(), 5);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::timeout::AttemptTimeoutLayer;
    /// # use tower::Layer;
    /// let mut service = AttemptTimeoutLayer::new(std::time::Duration::from_secs(1)).unwrap().layer(5_u8);
    /// *service.get_mut() = 6;
    /// assert_eq!(*service.get_ref(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::timeout::AttemptTimeoutLayer;
    /// # use tower::Layer;
    /// let service = AttemptTimeoutLayer::new(std::time::Duration::from_secs(1)).unwrap().layer(5_u8);
    /// assert_eq!(service.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, P, Req> Service<Req> for AttemptTimeout<S, P>
where
    S: Service<Req>,
    S::Error: CarriesRejection,
    P: TimeoutFor<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline(always)]
    fn call(&mut self, req: Req) -> Self::Future {
        let timeout = match self.per_request.timeout_for(&req) {
            Some(timeout) => timeout.min(layer::MAX_TIMEOUT),
            None => self.timeout.get(),
        };
        ResponseFuture::new(self.inner.call(req), timeout, self.meter.clone())
    }
}
