//! The throttle's response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::state::Throttler;
use crate::classify::{Classify, Outcome};
use crate::rejection::{CarriesRejection, Rejected};

pin_project! {
    /// The future of a [`Throttle`](super::Throttle) call: the inner call, counted when
    /// it ends, or a local rejection.
    ///
    /// Dropped before it ends, it counts nothing.
    ///
    /// ```
    /// use seawall::throttle::ThrottleLayer;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = ThrottleLayer::builder().build()?;
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
        record: Option<(Arc<Throttler>, C)>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    #[inline]
    pub(crate) fn running(future: F, throttler: Arc<Throttler>, classifier: C) -> Self {
        ResponseFuture {
            inner: Some(future),
            record: Some((throttler, classifier)),
        }
    }

    pub(crate) fn rejected() -> Self {
        ResponseFuture {
            inner: None,
            record: None,
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
            let rejection = Rejected::new(crate::Reason::Throttled, None);
            return Poll::Ready(Err(rejection.into()));
        };
        let result = ready!(future.poll(cx));
        if let Some((throttler, classifier)) = this.record.take() {
            match classifier.classify(&result) {
                Outcome::Success => throttler.record(true),
                Outcome::Failure => throttler.record(false),
                Outcome::Ignored => {}
            }
        }
        Poll::Ready(result)
    }
}
