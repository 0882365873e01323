//! The fallback layer's response future: the call, then, if it failed as the rule
//! says, the fallback under its time limit and its place.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::state::{Ending, Recover, Shared};
use super::when::When;
use crate::cap::Place;

pin_project! {
    /// The response of a call through a [`Fallback`](super::Fallback) service.
    ///
    /// ```
    /// # use seawall::fallback::FallbackLayer;
    /// # use tower::{Layer, ServiceExt};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let layer = FallbackLayer::builder(|_: &&str| true, |_: &&str| async { Ok::<u8, &str>(0) })
    ///     .build()
    ///     .unwrap();
    /// let service = layer.layer(tower::service_fn(|_: ()| async { Err::<u8, &str>("down") }));
    /// assert_eq!(service.oneshot(()).await, Ok(0));
    /// # }
    /// ```
    pub struct ResponseFuture<F, W, R, T, E>
    where
        R: Recover<T, E>,
    {
        #[pin]
        kind: Kind<F, R::Future, E>,
        shared: Arc<Shared<W, R>>,
    }
}

pin_project! {
    #[project = Projected]
    enum Kind<F, G, E> {
        // The call.
        Primary { #[pin] inner: F },
        // The service refused in `poll_ready` with an error the rule accepts: no call.
        Refused { error: Option<E> },
        // The fallback, the original error kept in case it runs out of time.
        Fallback {
            #[pin] fallback: G,
            #[pin] limit: Option<Sleep>,
            original: Option<E>,
            place: Option<Place>,
        },
    }
}

impl<F, W, R, T, E> std::fmt::Debug for ResponseFuture<F, W, R, T, E>
where
    R: Recover<T, E>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, W, R, T, E> ResponseFuture<F, W, R, T, E>
where
    R: Recover<T, E>,
{
    pub(super) fn new(inner: F, shared: Arc<Shared<W, R>>) -> Self {
        ResponseFuture {
            kind: Kind::Primary { inner },
            shared,
        }
    }

    pub(super) fn refused(error: E, shared: Arc<Shared<W, R>>) -> Self {
        ResponseFuture {
            kind: Kind::Refused { error: Some(error) },
            shared,
        }
    }
}

impl<F, W, R, T, E> Future for ResponseFuture<F, W, R, T, E>
where
    F: Future<Output = Result<T, E>>,
    W: When<E>,
    R: Recover<T, E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let error = match this.kind.as_mut().project() {
                Projected::Primary { inner } => match ready!(inner.poll(cx)) {
                    Ok(response) => return Poll::Ready(Ok(response)),
                    Err(error) => error,
                },
                Projected::Refused { error } => error.take().expect("polled after completion"),
                Projected::Fallback {
                    fallback,
                    limit,
                    original,
                    place,
                } => {
                    if let Poll::Ready(result) = fallback.poll(cx) {
                        place.take();
                        this.shared.used(Ending::Answered);
                        return Poll::Ready(result);
                    }
                    if let Some(limit) = limit.as_pin_mut() {
                        ready!(limit.poll(cx));
                        place.take();
                        this.shared.used(Ending::TimedOut);
                        let error = original.take().expect("polled after completion");
                        return Poll::Ready(Err(error));
                    }
                    return Poll::Pending;
                }
            };
            if !this.shared.when.applies(&error) {
                return Poll::Ready(Err(error));
            }
            let Some(place) = this.shared.running.try_take() else {
                this.shared.used(Ending::OverCap);
                return Poll::Ready(Err(error));
            };
            let fallback = this.shared.recover.recover(&error);
            let limit = this.shared.time_limit.map(tokio::time::sleep);
            this.kind.set(Kind::Fallback {
                fallback,
                limit,
                original: Some(error),
                place: Some(place),
            });
            // Round again: the fallback's first poll registers its and the limit's wakers.
        }
    }
}
