//! Client-side adaptive throttling (Google SRE book, "Handling Overload"): when the
//! backend refuses much of what it is sent, refuse some calls locally, before they cost
//! the backend anything.
//!
//! Over a sliding time window the throttle counts *requests* (calls the backend answered,
//! plus calls it rejected locally) and *accepts* (calls the backend answered with a
//! success, as decided by the [classifier](Builder::classifier)). Each new call is
//! rejected with probability
//!
//! ```text
//! min(max_reject_probability, max(0, (requests − K·accepts) / (requests + 1)))
//! ```
//!
//! so nothing is rejected while the backend accepts at least one call in K, and
//! rejections grow as it accepts less. A rejected call resolves at once to a
//! [`Rejected`](crate::Rejected) with [`Reason::Throttled`](crate::Reason::Throttled).
//!
//! # Guarantees
//!
//! * The window is lock-free: one atomic word per bucket; a call reads the clock, sums the
//!   buckets, and draws one seedable random number only when the probability is not zero.
//! * A call whose future is dropped, or that the classifier ignores, counts nothing.
//! * The history is created by [`Builder::build`] and shared by every service and clone.
//! * No `tracing` events: the throttle has no state changes, only a probability, which
//!   the [`ThrottleHandle`] reports.
//!
//! # Example
//!
//! ```
//! use seawall::throttle::ThrottleLayer;
//! use seawall::{AsRejected, Reason};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let throttle = ThrottleLayer::builder().seed(1).build()?;
//! let handle = throttle.handle();
//! let mut client = ServiceBuilder::new()
//!     .layer(throttle)
//!     .service(service_fn(|_: ()| async { Err::<(), BoxError>("overloaded".into()) }));
//!
//! let mut throttled = 0;
//! for _ in 0..100 {
//!     let err = client.ready().await?.call(()).await.unwrap_err();
//!     if err.as_rejected().map(|r| r.reason()) == Some(Reason::Throttled) {
//!         throttled += 1;
//!     }
//! }
//! assert!(throttled > 50, "most calls never reached the failing backend");
//! assert!(handle.rejection_probability() > 0.8);
//! # Ok(())
//! # }
//! ```

mod builder;
mod config;
mod future;
mod handle;
mod layer;
mod state;
mod window;

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::ThrottleConfig;
pub use future::ResponseFuture;
pub use handle::ThrottleHandle;
pub use layer::ThrottleLayer;

use crate::classify::{Classify, ErrorsAreFailures};
use crate::rejection::CarriesRejection;
use state::Throttler;

/// A service throttled by its backend's recent acceptance; made by [`ThrottleLayer`].
///
/// ```
/// use seawall::throttle::ThrottleLayer;
/// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let layer = ThrottleLayer::builder().build()?;
/// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x + 1) }));
/// assert_eq!(service.ready().await?.call(1).await?, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Throttle<S, C = ErrorsAreFailures> {
    inner: S,
    throttler: Arc<Throttler>,
    classifier: C,
}

impl<S, C> Throttle<S, C> {
    pub(crate) fn new(inner: S, throttler: Arc<Throttler>, classifier: C) -> Self {
        Throttle {
            inner,
            throttler,
            classifier,
        }
    }

    /// A handle to read the throttle this service shares.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// # use tower::Layer;
    /// let service = ThrottleLayer::builder().build().unwrap().layer(());
    /// assert_eq!(service.handle().requests(), 0);
    /// ```
    pub fn handle(&self) -> ThrottleHandle {
        ThrottleHandle::new(self.throttler.clone())
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// # use tower::Layer;
    /// let service = ThrottleLayer::builder().build().unwrap().layer(3_u8);
    /// assert_eq!(*service.get_ref(), 3);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// # use tower::Layer;
    /// let mut service = ThrottleLayer::builder().build().unwrap().layer(3_u8);
    /// *service.get_mut() = 4;
    /// assert_eq!(*service.get_ref(), 4);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// # use tower::Layer;
    /// assert_eq!(ThrottleLayer::builder().build().unwrap().layer(3_u8).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for Throttle<S, C>
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
        if self.throttler.admit() {
            let future = self.inner.call(req);
            ResponseFuture::running(future, self.throttler.clone(), self.classifier.clone())
        } else {
            ResponseFuture::rejected()
        }
    }
}
