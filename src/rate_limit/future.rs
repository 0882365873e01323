//! The rate limiter's response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Service;

use super::gcra::{Gcra, Slot};
use crate::rejection::{CarriesRejection, Rejected};

pin_project! {
    /// The future of a [`RateLimit`](super::RateLimit) call: the inner call, a wait for a
    /// reserved slot before it, or an immediate rejection.
    ///
    /// Dropped while it waits, it gives its reserved slot back if no later call has
    /// reserved one since; otherwise the slot goes unused (see the
    /// [module docs](super)).
    ///
    /// ```
    /// use seawall::rate_limit::RateLimitLayer;
    /// use std::time::Duration;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = RateLimitLayer::builder(10, Duration::from_secs(1)).build()?;
    /// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// let future = service.ready().await?.call(7); // this future
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F, S, Req> {
        #[pin]
        state: State<F, S, Req>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F, S, Req> {
        Running { #[pin] future: F },
        // Boxed, so that a call allowed at once moves a small future.
        Waiting { waiting: Pin<Box<Waiting<S, Req>>> },
        Rejected { rejection: Option<Rejected> },
    }
}

pin_project! {
    /// A call waiting for its reserved slot.
    #[derive(Debug)]
    struct Waiting<S, Req> {
        #[pin]
        sleep: Sleep,
        reservation: Reservation,
        // The service, already ready, and the request it will be called with.
        call: Option<(S, Req)>,
    }
}

/// A slot reserved ahead of time; given back if dropped unused while still the latest.
#[derive(Debug)]
pub(crate) struct Reservation {
    pub(crate) gcra: Arc<Gcra>,
    pub(crate) slot: Option<Slot>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.gcra.refund(slot);
        }
    }
}

impl<F, S, Req> ResponseFuture<F, S, Req> {
    #[inline]
    pub(crate) fn running(future: F) -> Self {
        ResponseFuture {
            state: State::Running { future },
        }
    }

    pub(crate) fn waiting(sleep: Sleep, reservation: Reservation, service: S, req: Req) -> Self {
        ResponseFuture {
            state: State::Waiting {
                waiting: Box::pin(Waiting {
                    sleep,
                    reservation,
                    call: Some((service, req)),
                }),
            },
        }
    }

    pub(crate) fn rejected(rejection: Rejected) -> Self {
        ResponseFuture {
            state: State::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

impl<F, S, Req, T, E> Future for ResponseFuture<F, S, Req>
where
    F: Future<Output = Result<T, E>>,
    S: Service<Req, Future = F>,
    E: CarriesRejection,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let future = match self.as_mut().project().state.project() {
                StateProj::Running { future } => return future.poll(cx),
                StateProj::Waiting { waiting } => {
                    let waiting = waiting.as_mut().project();
                    ready!(waiting.sleep.poll(cx));
                    waiting.reservation.slot = None; // used: nothing to give back
                    let (mut service, req) = waiting.call.take().expect("a waiting call runs once");
                    service.call(req)
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().expect("polled after completion");
                    return Poll::Ready(Err(rejection.into()));
                }
            };
            self.as_mut().project().state.set(State::Running { future });
        }
    }
}
