//! The attempt timeout's response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::classify::Outcome;
use crate::rejection::{CarriesRejection, Reason, Rejected};
use crate::telemetry::{SharedMeter, Stopwatch};
use crate::time::{LazyTimer, after};

pin_project! {
    /// The future of an [`AttemptTimeout`](super::AttemptTimeout) call.
    ///
    /// ```
    /// use seawall::timeout::AttemptTimeoutLayer;
    /// use std::time::Duration;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = AttemptTimeoutLayer::new(Duration::from_secs(1))?;
    /// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// let future = service.ready().await?.call(7); // this future
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        // Emptied when the timeout fires, so the attempt is cancelled at once.
        #[pin]
        inner: Option<F>,
        #[pin]
        timer: LazyTimer,
        timeout: Duration,
        meter: SharedMeter,
        started: Stopwatch,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, timeout: Duration, meter: SharedMeter) -> Self {
        ResponseFuture {
            inner: Some(inner),
            timer: LazyTimer::new(),
            timeout,
            meter,
            started: Stopwatch::start(),
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: CarriesRejection,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            panic!("attempt timeout future polled after completion");
        };
        if let Poll::Ready(result) = inner.poll(cx) {
            if let Some(took) = this.started.elapsed() {
                this.meter.attempt_duration(took);
                let outcome = if result.is_ok() {
                    Outcome::Success
                } else {
                    Outcome::Failure
                };
                this.meter.call(outcome);
            }
            return Poll::Ready(result);
        }
        let timeout = *this.timeout;
        match this
            .timer
            .poll_expired(cx, || after(Instant::now(), timeout))
        {
            Poll::Ready(()) => {
                this.inner.set(None);
                let reason = Reason::AttemptTimeout { after: timeout };
                this.meter.rejected(reason);
                if let Some(took) = this.started.elapsed() {
                    this.meter.attempt_duration(took);
                }
                Poll::Ready(Err(Rejected::new(reason, None).into()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
