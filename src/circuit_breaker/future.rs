//! The breaker's response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::Link;
use super::word::Admission;
use crate::classify::Classify;
use crate::rejection::{CarriesRejection, Rejected};

pin_project! {
    /// The future of a [`CircuitBreaker`](super::CircuitBreaker) call: the inner call,
    /// recorded when it ends, or an immediate rejection.
    ///
    /// Dropping it before it ends records nothing and gives back a half-open probe slot.
    ///
    /// ```
    /// use seawall::circuit_breaker::{CircuitBreakerLayer, ResponseFuture};
    /// use std::future::Ready;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = CircuitBreakerLayer::builder().build()?;
    /// let mut service = layer.layer(service_fn(|x: u8| {
    ///     std::future::ready(Ok::<_, BoxError>(x))
    /// }));
    /// let ready = service.ready().await?;
    /// let future: ResponseFuture<Ready<Result<u8, BoxError>>, _> = ready.call(7);
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, C> {
        Running { #[pin] future: F, call: Call<C> },
        Rejected { rejection: Rejected },
    }
}

/// One admitted call: what the breaker needs to record it (kept small: it is moved with
/// the future). Dropping it unrecorded gives back what the call held.
#[derive(Debug)]
pub(crate) struct Call<C> {
    pub(crate) link: Link<C>,
    /// Also carries the call's start when slow-call detection is on.
    pub(crate) permit: Admission,
}

impl<C> Drop for Call<C> {
    #[inline(always)]
    fn drop(&mut self) {
        // Only a probe holds anything. Checked before touching the engine, and nothing is
        // written back: this runs after every call, on a permit already taken.
        if self.permit.is_probe() {
            self.abandon();
        }
    }
}

impl<C> Call<C> {
    /// Out of line, so that the drop above stays small enough to be inlined into the
    /// caller's code: a call to the drop glue measured 1 ns on every call.
    #[cold]
    #[inline(never)]
    fn abandon(&self) {
        self.link.engine().abandon(self.permit);
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn running(future: F, call: Call<C>) -> Self {
        ResponseFuture {
            kind: Kind::Running { future, call },
        }
    }

    pub(crate) fn rejected(rejection: Rejected) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { rejection },
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: CarriesRejection,
    C: Classify<T, E>,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Running { future, call } => {
                let result = ready!(future.poll(cx));
                // Classified before the permit is taken: should the classifier panic,
                // the call's drop still gives a probe slot back.
                let outcome = call.link.classifier().classify(&result);
                let permit = call.permit.take();
                if permit.is_live() {
                    call.link.engine().complete(permit, outcome);
                }
                Poll::Ready(result)
            }
            KindProj::Rejected { rejection } => Poll::Ready(Err((*rejection).into())),
        }
    }
}
