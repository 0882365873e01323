//! The adaptive limiter's response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::algorithm::Sample;
use super::state::Limiter;
use crate::classify::{Classify, Outcome};
use crate::rejection::{CarriesRejection, Reason, Rejected};
use crate::semaphore::Permit;

pin_project! {
    /// The future of an [`AdaptiveLimit`](super::AdaptiveLimit) call: the inner call,
    /// sampled when it ends, or an immediate rejection.
    ///
    /// Dropped before it ends, it gives its permit back and moves no limit.
    ///
    /// ```
    /// use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).build()?;
    /// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// let future = service.ready().await?.call(7); // this future
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: Option<F>,
        call: Option<Call<C>>,
        limit: u32,
    }
}

/// One admitted call: its permit and what its sample needs.
#[derive(Debug)]
pub(crate) struct Call<C> {
    pub(crate) limiter: Arc<Limiter>,
    pub(crate) classifier: C,
    pub(crate) permit: Permit,
    pub(crate) started: Instant,
    pub(crate) in_flight: u32,
}

impl<F, C> ResponseFuture<F, C> {
    #[inline]
    pub(crate) fn running(future: F, call: Call<C>) -> Self {
        ResponseFuture {
            inner: Some(future),
            call: Some(call),
            limit: 0,
        }
    }

    pub(crate) fn rejected(limit: u32) -> Self {
        ResponseFuture {
            inner: None,
            call: None,
            limit,
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
        let this = self.project();
        let Some(future) = this.inner.as_pin_mut() else {
            let reason = Reason::ConcurrencyLimited { limit: *this.limit };
            return Poll::Ready(Err(Rejected::new(reason, None).into()));
        };
        let result = ready!(future.poll(cx));
        if let Some(call) = this.call.take() {
            let dropped = match call.classifier.classify(&result) {
                Outcome::Success => false,
                Outcome::Failure => true,
                Outcome::Ignored => return Poll::Ready(result),
            };
            // The permit goes back before the sample, so the new limit applies at once.
            drop(call.permit);
            call.limiter.sample(Sample {
                rtt: call.started.elapsed(),
                in_flight: call.in_flight,
                dropped,
            });
        }
        Poll::Ready(result)
    }
}
