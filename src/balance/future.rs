//! The response future of an [`Endpoint`](super::Endpoint): reports the call's outcome
//! to the endpoint's breaker when it ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::Classify;
use crate::circuit_breaker::OwnedCallPermit;

pin_project! {
    /// The response of one endpoint's call; its outcome goes to the endpoint's breaker
    /// (a dropped call gives back what its permit held).
    ///
    /// ```
    /// # use seawall::balance::{Endpoints, ResponseFuture};
    /// # use tower::Service;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let endpoints = Endpoints::builder().build()?;
    /// let mut endpoint = endpoints.endpoint("a", tower::service_fn(|()| async { Ok::<_, std::io::Error>(1) }));
    /// std::future::poll_fn(|cx| endpoint.poll_ready(cx)).await?;
    /// let response = endpoint.call(());
    /// assert_eq!(response.await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        permit: Option<OwnedCallPermit>,
        classifier: C,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn new(inner: F, permit: Option<OwnedCallPermit>, classifier: C) -> Self {
        ResponseFuture {
            inner,
            permit,
            classifier,
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(permit) = this.permit.take() {
            permit.record(this.classifier.classify(&result));
        }
        Poll::Ready(result)
    }
}
