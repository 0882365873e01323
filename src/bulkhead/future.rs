//! The bulkhead's response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::Service;

use super::wait::Wait;
use crate::rejection::{CarriesRejection, Rejected};
use crate::semaphore::Permit;
use crate::time::LazyTimer;

pin_project! {
    /// The future of a [`Bulkhead`](super::Bulkhead) call: waiting in the queue, then
    /// running with a permit, or an immediate rejection.
    ///
    /// Its permit is given back when the call ends or the future is dropped; dropped
    /// while queued, it leaves the queue.
    ///
    /// ```
    /// use seawall::bulkhead::BulkheadLayer;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = BulkheadLayer::builder().build()?;
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
        Running { #[pin] future: F, permit: Option<Permit> },
        // Boxed, so that a call that gets a permit at once moves a small future.
        Queued { queued: Pin<Box<Queued<S, Req>>> },
        Rejected { rejection: Option<Rejected> },
    }
}

pin_project! {
    /// A call waiting in the queue.
    #[derive(Debug)]
    struct Queued<S, Req> {
        wait: Wait,
        #[pin]
        timer: LazyTimer,
        // The service, already ready, and the request it will be called with.
        call: Option<(S, Req)>,
    }
}

impl<F, S, Req> ResponseFuture<F, S, Req> {
    #[inline]
    pub(crate) fn running(future: F, permit: Permit) -> Self {
        let permit = Some(permit);
        ResponseFuture {
            state: State::Running { future, permit },
        }
    }

    pub(crate) fn queued(wait: Wait, service: S, req: Req) -> Self {
        ResponseFuture {
            state: State::Queued {
                queued: Box::pin(Queued {
                    wait,
                    timer: LazyTimer::new(),
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
            let next = match self.as_mut().project().state.project() {
                StateProj::Running { future, permit } => {
                    let result = ready!(future.poll(cx));
                    drop(permit.take());
                    return Poll::Ready(result);
                }
                StateProj::Queued { queued } => {
                    let queued = queued.as_mut().project();
                    let (wait, timer, call) = (queued.wait, queued.timer, queued.call);
                    match ready!(wait.poll(cx, || timer)) {
                        Ok(permit) => {
                            let (mut service, req) = call.take().expect("a queued call runs once");
                            State::Running {
                                future: service.call(req),
                                permit: Some(permit),
                            }
                        }
                        // Dropping the queued state leaves the queue (or gives back a permit
                        // granted at this very moment).
                        Err(reason) => State::Rejected {
                            rejection: Some(Rejected::new(reason, None)),
                        },
                    }
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().expect("polled after completion");
                    return Poll::Ready(Err(rejection.into()));
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}
