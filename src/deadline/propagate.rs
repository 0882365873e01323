//! Deadlines over the wire: the client writes its remaining budget into a header, the
//! server reads it and makes it the handler's deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::header::DeadlineHeader;
use crate::config::ConfigError;
use crate::context::{Scope, earliest, enter};
use crate::time::after;

/// The deadline of a request, in its extensions: set by [`AcceptDeadline`] for the
/// handler, and by [`PropagateDeadline`] for the HTTP client below it.
///
/// ```
/// use seawall::deadline::RequestDeadline;
/// # fn handler(req: http::Request<()>) {
/// if let Some(RequestDeadline(deadline)) = req.extensions().get::<RequestDeadline>() {
///     println!("must answer by {deadline:?}");
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestDeadline(pub Instant);

// ------------------------------------------------------------------------------- client

/// Writes the current call's remaining budget into each outgoing request.
///
/// Place it directly above the HTTP client, below the [`DeadlineLayer`](super::DeadlineLayer)
/// and any retry, so every attempt carries the time that is actually left.
///
/// The header is written when `call` is made, since the request leaves then: it carries
/// the deadline in force at that moment. A tighter [`scope`](super::scope) entered only
/// after `call` (as in `deadline::scope(d, svc.call(req))`) is still enforced by the
/// layers above, but the first attempt's header cannot carry it; make the call inside
/// the scope (`deadline::scope(d, async { svc.ready().await?.call(req).await })`) and it
/// does.
///
/// ```
/// use seawall::deadline::{DeadlineHeader, DeadlineLayer, PropagateDeadlineLayer};
/// use std::time::Duration;
/// use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), BoxError> {
/// let mut client = ServiceBuilder::new()
///     .layer(DeadlineLayer::new(Duration::from_secs(2))?)
///     .layer(PropagateDeadlineLayer::new(DeadlineHeader::default()))
///     .service(service_fn(|req: http::Request<()>| async move {
///         Ok::<_, BoxError>(req.headers()["x-request-timeout-ms"].clone())
///     }));
/// let sent = client.ready().await?.call(http::Request::new(())).await?;
/// assert_eq!(sent, "2000");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PropagateDeadlineLayer {
    header: DeadlineHeader,
}

impl PropagateDeadlineLayer {
    /// Writes the budget in `header`.
    ///
    /// ```
    /// use seawall::deadline::{DeadlineHeader, PropagateDeadlineLayer};
    /// let layer = PropagateDeadlineLayer::new(DeadlineHeader::grpc());
    /// # let _ = layer;
    /// ```
    pub fn new(header: DeadlineHeader) -> Self {
        PropagateDeadlineLayer { header }
    }
}

impl<S> Layer<S> for PropagateDeadlineLayer {
    type Service = PropagateDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateDeadline {
            inner,
            header: self.header.clone(),
        }
    }
}

/// Made by [`PropagateDeadlineLayer`]; requests without a deadline pass unchanged.
///
/// ```
/// use seawall::deadline::{DeadlineHeader, PropagateDeadlineLayer};
/// use tower::Layer;
/// let svc = PropagateDeadlineLayer::new(DeadlineHeader::default()).layer(1_u8);
/// assert_eq!(*svc.get_ref(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct PropagateDeadline<S> {
    inner: S,
    header: DeadlineHeader,
}

impl<S> PropagateDeadline<S> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::deadline::{DeadlineHeader, PropagateDeadlineLayer};
    /// # use tower::Layer;
    /// let svc = PropagateDeadlineLayer::new(DeadlineHeader::default()).layer(1_u8);
    /// assert_eq!(*svc.get_ref(), 1);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::deadline::{DeadlineHeader, PropagateDeadlineLayer};
    /// # use tower::Layer;
    /// let svc = PropagateDeadlineLayer::new(DeadlineHeader::default()).layer(1_u8);
    /// assert_eq!(svc.into_inner(), 1);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for PropagateDeadline<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Some(deadline) = super::current() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let value = self.header.encode(remaining);
            req.headers_mut().insert(self.header.name().clone(), value);
            req.extensions_mut().insert(RequestDeadline(deadline));
        }
        self.inner.call(req)
    }
}

// ------------------------------------------------------------------------------- server

/// Reads a caller's remaining budget from each incoming request and makes it the
/// deadline of the handler (and of every call the handler makes through seawall).
///
/// Incoming values are untrusted: malformed, negative and zero values are ignored, and
/// budgets above `max` are cut to `max`, each with a `tracing` warning (target
/// `seawall::deadline`). A request without the header gets no deadline from this layer.
/// This layer only sets the deadline; to cut a handler off when it passes, add a
/// [`DeadlineLayer`](super::DeadlineLayer) under it.
///
/// ```
/// use seawall::deadline::{self, AcceptDeadlineLayer, DeadlineHeader};
/// use std::time::Duration;
/// use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), BoxError> {
/// let mut server = ServiceBuilder::new()
///     .layer(AcceptDeadlineLayer::new(DeadlineHeader::default(), Duration::from_secs(30))?)
///     .service(service_fn(|_req: http::Request<()>| async { Ok::<_, BoxError>(deadline::remaining()) }));
///
/// let req = http::Request::builder().header("x-request-timeout-ms", "1500").body(())?;
/// assert_eq!(server.ready().await?.call(req).await?, Some(Duration::from_millis(1500)));
///
/// let absurd = http::Request::builder().header("x-request-timeout-ms", "999999999999").body(())?;
/// assert_eq!(server.ready().await?.call(absurd).await?, Some(Duration::from_secs(30)));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AcceptDeadlineLayer {
    header: DeadlineHeader,
    max: Duration,
}

impl AcceptDeadlineLayer {
    /// Reads budgets from `header`, accepting at most `max`.
    ///
    /// # Errors
    ///
    /// `max` must be within `(0s, 365 days]`.
    ///
    /// ```
    /// use seawall::deadline::{AcceptDeadlineLayer, DeadlineHeader};
    /// let err = AcceptDeadlineLayer::new(DeadlineHeader::grpc(), std::time::Duration::ZERO).unwrap_err();
    /// assert_eq!(err.to_string(), "accept_deadline.max: 0ns is outside (0s, 365 days]");
    /// ```
    pub fn new(header: DeadlineHeader, max: Duration) -> Result<Self, ConfigError> {
        if max.is_zero() || max > Duration::from_secs(365 * 24 * 3600) {
            let err = ConfigError::new("max", format!("{max:?}"), "(0s, 365 days]");
            return Err(err.within("accept_deadline"));
        }
        Ok(AcceptDeadlineLayer { header, max })
    }
}

impl<S> Layer<S> for AcceptDeadlineLayer {
    type Service = AcceptDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AcceptDeadline {
            inner,
            header: self.header.clone(),
            max: self.max,
        }
    }
}

/// Made by [`AcceptDeadlineLayer`].
///
/// ```
/// use seawall::deadline::{AcceptDeadlineLayer, DeadlineHeader};
/// use tower::Layer;
/// let layer = AcceptDeadlineLayer::new(DeadlineHeader::default(), std::time::Duration::from_secs(5)).unwrap();
/// assert_eq!(*layer.layer(2_u8).get_ref(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct AcceptDeadline<S> {
    inner: S,
    header: DeadlineHeader,
    max: Duration,
}

impl<S> AcceptDeadline<S> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::deadline::{AcceptDeadlineLayer, DeadlineHeader};
    /// # use tower::Layer;
    /// # let layer = AcceptDeadlineLayer::new(DeadlineHeader::default(), std::time::Duration::from_secs(5)).unwrap();
    /// assert_eq!(*layer.layer(2_u8).get_ref(), 2);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::deadline::{AcceptDeadlineLayer, DeadlineHeader};
    /// # use tower::Layer;
    /// # let layer = AcceptDeadlineLayer::new(DeadlineHeader::default(), std::time::Duration::from_secs(5)).unwrap();
    /// assert_eq!(layer.layer(2_u8).into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The budget the request asks for, checked and clamped.
    fn budget<B>(&self, req: &Request<B>) -> Option<Duration> {
        let value = req.headers().get(self.header.name())?;
        match self.header.decode(value) {
            Ok(budget) if budget > self.max => {
                crate::telemetry::event!(
                    warn,
                    "deadline",
                    self.header.name().as_str(),
                    "budget_clamped",
                    requested_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
                    max_ms = self.max.as_millis() as u64,
                    "incoming deadline budget above the server maximum; clamped"
                );
                Some(self.max)
            }
            Ok(budget) => Some(budget),
            Err(why) => {
                crate::telemetry::event!(
                    warn,
                    "deadline",
                    self.header.name().as_str(),
                    "budget_ignored",
                    seawall.reason = %why,
                    value_len = value.len(),
                    "incoming deadline budget ignored"
                );
                None
            }
        }
    }
}

impl<S, B> Service<Request<B>> for AcceptDeadline<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AcceptFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let Some(budget) = self.budget(&req) else {
            return AcceptFuture {
                kind: AcceptKind::Plain {
                    inner: self.inner.call(req),
                },
            };
        };
        let deadline = earliest(after(Instant::now(), budget));
        req.extensions_mut().insert(RequestDeadline(deadline));
        let inner = enter(deadline, || self.inner.call(req));
        AcceptFuture {
            kind: AcceptKind::Scoped {
                inner: Scope::new(deadline, inner),
            },
        }
    }
}

pin_project! {
    /// The future of an [`AcceptDeadline`] call: the handler, run with the caller's
    /// deadline when the request carried one, or with the deadline current where this
    /// future is polled if that is earlier.
    ///
    /// ```
    /// use seawall::deadline::{self, AcceptDeadlineLayer, DeadlineHeader};
    /// use std::time::Duration;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = AcceptDeadlineLayer::new(DeadlineHeader::default(), Duration::from_secs(30))?;
    /// let mut server = layer.layer(service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, BoxError>(deadline::remaining())
    /// }));
    /// let req = http::Request::builder().header("x-request-timeout-ms", "800").body(())?;
    /// let future = server.ready().await?.call(req); // this future
    /// assert_eq!(future.await?, Some(Duration::from_millis(800)));
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct AcceptFuture<F> {
        #[pin]
        kind: AcceptKind<F>,
    }
}

pin_project! {
    #[project = AcceptProj]
    #[derive(Debug)]
    enum AcceptKind<F> {
        Scoped { #[pin] inner: Scope<F> },
        Plain { #[pin] inner: F },
    }
}

impl<F: Future> Future for AcceptFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            AcceptProj::Scoped { inner } => inner.poll(cx),
            AcceptProj::Plain { inner } => inner.poll(cx),
        }
    }
}
