//! The keyed service's response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use pin_project_lite::pin_project;
use tower::Service;

use super::partitions::Active;
use crate::rejection::{CarriesRejection, Rejected};

pin_project! {
    /// The future of a [`Keyed`](super::Keyed) call: the key's own service, made ready
    /// and called, or an immediate rejection when no key could be had.
    ///
    /// The key counts as busy (never evicted) until this future ends or is dropped.
    ///
    /// ```
    /// use seawall::bulkhead::BulkheadLayer;
    /// use seawall::keyed::KeyedLayer;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = KeyedLayer::builder(BulkheadLayer::builder(), |x: &u8| *x).build()?;
    /// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// let future = service.ready().await?.call(7); // this future
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<S: Service<Req>, Req> {
        #[pin]
        state: State<S, S::Future, Req, S::Error>,
        active: Option<Active>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<S, F, Req, E> {
        NotReady { service: S, req: Option<Req> },
        Called { #[pin] future: F },
        Rejected { rejection: Option<Rejected> },
        Failed { error: Option<E> },
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    /// Readies and calls `service` at once if it is ready now, so that admission happens
    /// in `call`; otherwise leaves both steps to the future.
    pub(crate) fn new(mut service: S, req: Req, active: Active) -> Self {
        let mut cx = Context::from_waker(Waker::noop());
        let state = match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => State::Called {
                future: service.call(req),
            },
            Poll::Ready(Err(error)) => State::Failed { error: Some(error) },
            Poll::Pending => State::NotReady {
                service,
                req: Some(req),
            },
        };
        ResponseFuture {
            state,
            active: Some(active),
        }
    }

    pub(crate) fn rejected(rejection: Rejected) -> Self {
        ResponseFuture {
            state: State::Rejected {
                rejection: Some(rejection),
            },
            active: None,
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: CarriesRejection,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let future = match this.state.as_mut().project() {
                StateProj::NotReady { service, req } => {
                    if let Err(err) = ready!(service.poll_ready(cx)) {
                        this.active.take();
                        return Poll::Ready(Err(err));
                    }
                    service.call(req.take().expect("a keyed call runs once"))
                }
                StateProj::Called { future } => {
                    let result = ready!(future.poll(cx));
                    this.active.take();
                    return Poll::Ready(result);
                }
                StateProj::Failed { error } => {
                    this.active.take();
                    let error = error.take().expect("polled after completion");
                    return Poll::Ready(Err(error));
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().expect("polled after completion");
                    return Poll::Ready(Err(rejection.into()));
                }
            };
            this.state.set(State::Called { future });
        }
    }
}
