//! The deadline layer: one absolute time limit for a whole call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::config::ConfigError;
use crate::context::{Scope, earliest, enter};
use crate::limit::{SharedLimit, TimeLimitHandle, check};
use crate::rejection::{CarriesRejection, Reason, Rejected, RejectedBy};
use crate::telemetry::{SharedMeter, shared_meter};
use crate::time::{LazyTimer, after};
use std::sync::Arc;

/// Gives every call a deadline `budget` from when it starts; see the
/// [module docs](crate::deadline).
///
/// ```
/// use seawall::deadline::DeadlineLayer;
/// use std::time::Duration;
///
/// let layer = DeadlineLayer::new(Duration::from_secs(30))?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    budget: SharedLimit,
    name: Arc<str>,
}

impl DeadlineLayer {
    /// Calls must finish within `budget` of their start (or by an earlier deadline they
    /// already carry).
    ///
    /// # Errors
    ///
    /// `budget` must be within `(0s, 365 days]`.
    ///
    /// ```
    /// use seawall::deadline::DeadlineLayer;
    /// let err = DeadlineLayer::new(std::time::Duration::ZERO).unwrap_err();
    /// assert_eq!(err.to_string(), "deadline.budget: 0ns is outside (0s, 365 days]");
    /// ```
    pub fn new(budget: Duration) -> Result<Self, ConfigError> {
        check("deadline", "budget", budget)?;
        Ok(DeadlineLayer {
            budget: SharedLimit::new(budget),
            name: Arc::from("deadline"),
        })
    }

    /// Names the layer in metrics. Default: `"deadline"`.
    ///
    /// ```
    /// use seawall::deadline::DeadlineLayer;
    /// let layer = DeadlineLayer::new(std::time::Duration::from_secs(30))?.name("checkout");
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = Arc::from(name);
        self
    }

    /// A handle to change the budget of this layer and all its services at run time.
    ///
    /// ```
    /// use seawall::deadline::DeadlineLayer;
    /// use std::time::Duration;
    /// let layer = DeadlineLayer::new(Duration::from_secs(30))?;
    /// layer.handle().set(Duration::from_secs(10))?;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn handle(&self) -> TimeLimitHandle {
        TimeLimitHandle::new(self.budget.clone(), "deadline", "budget", self.name.clone())
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            budget: self.budget.clone(),
            meter: shared_meter(RejectedBy::Deadline.as_str(), &self.name),
        }
    }
}

/// A service whose calls carry and enforce a deadline; made by [`DeadlineLayer`].
///
/// ```
/// use seawall::deadline::DeadlineLayer;
/// use tower::Layer;
///
/// let layer = DeadlineLayer::new(std::time::Duration::from_secs(1)).unwrap();
/// let service = layer.layer(tower::service_fn(|()| async { Ok::<_, tower::BoxError>(()) }));
/// # let _ = service;
/// ```
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    budget: SharedLimit,
    meter: SharedMeter,
}

impl<S> Deadline<S> {
    /// The inner service.
    ///
    /// ```
    /// # use seawall::deadline::DeadlineLayer;
    /// # use tower::Layer;
    /// let service = DeadlineLayer::new(std::time::Duration::from_secs(1)).unwrap().layer(3_u8);
    /// assert_eq!(*service.get_ref(), 3);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::deadline::DeadlineLayer;
    /// # use tower::Layer;
    /// let mut service = DeadlineLayer::new(std::time::Duration::from_secs(1)).unwrap().layer(3_u8);
    /// *service.get_mut() = 4;
    /// assert_eq!(*service.get_ref(), 4);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::deadline::DeadlineLayer;
    /// # use tower::Layer;
    /// let service = DeadlineLayer::new(std::time::Duration::from_secs(1)).unwrap().layer(3_u8);
    /// assert_eq!(service.into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req> Service<Req> for Deadline<S>
where
    S: Service<Req>,
    S::Error: CarriesRejection,
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
        let now = Instant::now();
        let deadline = earliest(after(now, self.budget.get()));
        if deadline <= now {
            return ResponseFuture {
                kind: Kind::Expired,
                meter: self.meter.clone(),
            };
        }
        let inner = enter(deadline, || self.inner.call(req));
        ResponseFuture {
            kind: Kind::Running {
                inner: Scope::new(deadline, inner),
                timer: LazyTimer::new(),
                timer_at: deadline,
            },
            meter: self.meter.clone(),
        }
    }
}

pin_project! {
    /// The future of a [`Deadline`] call: the inner call, run with the deadline as the
    /// current one, failing with [`Reason::DeadlineExceeded`] when it passes.
    ///
    /// The deadline is the earliest of the layer's and the one current wherever this
    /// future is polled, so awaiting it inside a tighter [`scope`](super::scope) than
    /// the one it was made in shortens it (see the [module docs](super)).
    ///
    /// ```
    /// use seawall::deadline::DeadlineLayer;
    /// use std::time::Duration;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = DeadlineLayer::new(Duration::from_secs(1))?;
    /// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// let future = service.ready().await?.call(7); // this future
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
        meter: SharedMeter,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Running {
            #[pin]
            inner: Scope<F>,
            #[pin]
            timer: LazyTimer,
            // When the timer, once armed, fires.
            timer_at: Instant,
        },
        Expired,
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: CarriesRejection,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let meter = this.meter;
        let mut kind = this.kind;
        if let KindProj::Running {
            mut inner,
            mut timer,
            timer_at,
        } = kind.as_mut().project()
        {
            if let Poll::Ready(result) = inner.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            let deadline = inner.deadline();
            if deadline < *timer_at {
                // Polled inside a tighter deadline: arm the timer for that one.
                *timer_at = deadline;
                timer.set(LazyTimer::new());
            }
            if timer.poll_expired(cx, || deadline).is_pending() {
                return Poll::Pending;
            }
            // Time is up: cancel the inner call now, not when this future is dropped.
            kind.set(Kind::Expired);
        }
        Poll::Ready(Err(exceeded(meter)))
    }
}

fn exceeded<E: From<Rejected>>(meter: &SharedMeter) -> E {
    meter.rejected(Reason::DeadlineExceeded);
    Rejected::new(Reason::DeadlineExceeded, None).into()
}
