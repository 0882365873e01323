//! Fallback: answer a failed call another way — a cached value, a default, a second
//! source — chosen by what went wrong, typed and checked at compile time.
//!
//! # What it guarantees
//!
//! * **Chosen by the error**: [`Refusals`] (any local refusal by a seawall layer: an
//!   open breaker, a full bulkhead, a passed deadline…), [`Reasons`] (only the reasons
//!   you pick), or any `Fn(&E) -> bool`; the rule and the fallback are checked against
//!   the service's response and error types when the stack is built, not looked up at
//!   run time.
//! * **Bounded**: a fallback runs under its own [`time_limit`](Builder::time_limit)
//!   and [`max_concurrent`](Builder::max_concurrent) cap; past either, the call gets the
//!   original error (a fallback that is itself a dependency is not stormed when the
//!   primary fails for everyone). A dropped call gives back its place.
//! * **Told apart**: every use is counted (`handle().used()`, metric
//!   `seawall.fallback.used` by outcome); HTTP fallbacks can mark their responses with
//!   [`FromFallback`] so callers and dashboards see which answers were not the real one.
//!
//! Costs per call: one reference count on the layer's shared state (an `Arc` clone);
//! nothing else until the call fails.
//!
//! # Example
//!
//! ```
//! use seawall::circuit_breaker::CircuitBreakerLayer;
//! use seawall::fallback::{FallbackLayer, Reasons};
//! use seawall::{Error, Reason};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), seawall::ConfigError> {
//! let breaker = CircuitBreakerLayer::builder().build()?;
//! breaker.handle().force_open();
//! let client = ServiceBuilder::new()
//!     .layer(
//!         FallbackLayer::builder(
//!             Reasons(|r: Reason| matches!(r, Reason::CircuitOpen | Reason::CircuitForcedOpen)),
//!             |_: &Error<&str>| async { Ok::<_, Error<&str>>("yesterday's prices") },
//!         )
//!         .build()?,
//!     )
//!     .layer(breaker)
//!     .map_err(Error::Service)
//!     .service(service_fn(|_: ()| async { Ok::<_, &str>("today's prices") }));
//! assert_eq!(client.oneshot(()).await.ok(), Some("yesterday's prices"));
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "serde")]
mod config;
mod future;
mod layer;
mod stale;
mod state;
mod when;

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

#[cfg(feature = "serde")]
pub use config::FallbackOverrides;
pub use future::ResponseFuture;
pub use layer::{Builder, FallbackHandle, FallbackLayer, Used};
pub use stale::{StaleFuture, StaleIfError, StaleIfErrorLayer};
pub use state::Recover;
#[cfg(feature = "http")]
pub use state::{Marked, MarkedFuture};
pub use when::{Reasons, Refusals, When};

use state::Shared;

/// Marks a response that came from a fallback, in an HTTP response's extensions
/// ([`marked`] puts it there), so callers and dashboards can tell.
///
/// ```
/// use seawall::fallback::FromFallback;
/// let mut response = http::Response::new("cached");
/// response.extensions_mut().insert(FromFallback);
/// assert!(response.extensions().get::<FromFallback>().is_some());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FromFallback;

/// Makes an HTTP fallback mark its answers with [`FromFallback`] (feature `http`).
///
/// ```
/// use seawall::fallback::{marked, FallbackLayer, FromFallback};
/// use tower::{Layer, ServiceExt, service_fn};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), seawall::ConfigError> {
/// let layer = FallbackLayer::builder(
///     |_: &&str| true,
///     marked(|_: &&str| async { Ok::<_, &str>(http::Response::new("cached")) }),
/// )
/// .build()?;
/// let down = service_fn(|_: ()| async { Err::<http::Response<&str>, &str>("503") });
/// let response = layer.layer(down).oneshot(()).await.unwrap();
/// assert!(response.extensions().get::<FromFallback>().is_some());
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "http")]
pub fn marked<R>(recover: R) -> Marked<R> {
    Marked(recover)
}

/// Puts [`FromFallback`] in an HTTP response's extensions (feature `http`): the mark
/// for [`StaleIfErrorLayer::mark`].
///
/// ```
/// use seawall::fallback::{mark_http, FromFallback};
/// let mut response = http::Response::new(());
/// mark_http(&mut response);
/// assert!(response.extensions().get::<FromFallback>().is_some());
/// ```
#[cfg(feature = "http")]
pub fn mark_http<B>(response: &mut http::Response<B>) {
    response.extensions_mut().insert(FromFallback);
}

/// A service whose failures the rule accepts are answered by a fallback (see the
/// [module](self)). Made by [`FallbackLayer`].
///
/// ```
/// # use seawall::fallback::FallbackLayer;
/// # use tower::Layer;
/// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?;
/// let service = layer.layer(tower::service_fn(|_: ()| async { Err::<u8, ()>(()) }));
/// # let _ = service;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub struct Fallback<S, W, R> {
    inner: S,
    shared: Arc<Shared<W, R>>,
    /// An error the rule accepts from the inner service's `poll_ready`, answered by the
    /// next call (boxed: only on that path).
    refused: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl<S: std::fmt::Debug, W, R> std::fmt::Debug for Fallback<S, W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S: Clone, W, R> Clone for Fallback<S, W, R> {
    fn clone(&self) -> Self {
        // A clone has not been polled ready.
        Fallback {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            refused: None,
        }
    }
}

impl<S, W, R> Fallback<S, W, R> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// # use tower::Layer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?;
    /// assert_eq!(*layer.layer(5_u8).get_ref(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// # use tower::Layer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?;
    /// let mut service = layer.layer(5_u8);
    /// *service.get_mut() = 6;
    /// assert_eq!(service.into_inner(), 6);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// # use tower::Layer;
    /// let layer = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) }).build()?;
    /// assert_eq!(layer.layer(5_u8).into_inner(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, W, R, Req> Service<Req> for Fallback<S, W, R>
where
    S: Service<Req>,
    S::Error: Send + Sync + 'static,
    W: When<S::Error>,
    R: Recover<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, W, R, S::Response, S::Error>;

    /// Ready when the inner service is; an error of its `poll_ready` that the rule
    /// accepts (a bulkhead's backpressure timing out, a breaker refusing before the
    /// call) makes this ready too, and the next call gets the fallback for it.
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Err(error)) if self.shared.when.applies(&error) => {
                self.refused = Some(Box::new(error));
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        if let Some(refused) = self.refused.take()
            && let Ok(error) = refused.downcast::<S::Error>()
        {
            return ResponseFuture::refused(*error, self.shared.clone());
        }
        ResponseFuture::new(self.inner.call(request), self.shared.clone())
    }
}
