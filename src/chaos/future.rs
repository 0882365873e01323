//! The chaos layer's response future: the call as it is, an injected outcome, or the
//! call delayed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::cap::Place;

pin_project! {
    /// The response of a call through a [`Chaos`](super::Chaos) service.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use tower::{Layer, ServiceExt};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let layer = ChaosLayer::builder().build().unwrap();
    /// let service = layer.layer(tower::service_fn(|n: u8| async move { Ok::<_, ()>(n) }));
    /// let response = service.oneshot(3); // a `ResponseFuture` inside
    /// assert_eq!(response.await, Ok(3));
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct ResponseFuture<F, T, E> {
        #[pin]
        kind: Kind<F, T, E>,
    }
}

pin_project! {
    #[project = Projected]
    #[derive(Debug)]
    enum Kind<F, T, E> {
        // Untouched.
        Passed { #[pin] inner: F },
        // Answered by the injected outcome (its place under the cap held until taken).
        Injected { result: Option<Result<T, E>>, slot: Option<Place> },
        // Waiting out the injected delay before the inner call is polled.
        Delayed { #[pin] sleep: Sleep, #[pin] inner: F, slot: Option<Place> },
    }
}

impl<F, T, E> ResponseFuture<F, T, E> {
    pub(super) fn passed(inner: F) -> Self {
        ResponseFuture {
            kind: Kind::Passed { inner },
        }
    }

    pub(super) fn injected(result: Result<T, E>, slot: Place) -> Self {
        ResponseFuture {
            kind: Kind::Injected {
                result: Some(result),
                slot: Some(slot),
            },
        }
    }

    pub(super) fn delayed(sleep: Sleep, inner: F, slot: Place) -> Self {
        ResponseFuture {
            kind: Kind::Delayed {
                sleep,
                inner,
                slot: Some(slot),
            },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            Projected::Passed { inner } => inner.poll(cx),
            Projected::Injected { result, slot } => {
                slot.take();
                Poll::Ready(result.take().expect("polled after completion"))
            }
            Projected::Delayed { sleep, inner, slot } => {
                if slot.is_some() {
                    ready!(sleep.poll(cx));
                    slot.take(); // the delay is over: no longer an active fault
                }
                inner.poll(cx)
            }
        }
    }
}
