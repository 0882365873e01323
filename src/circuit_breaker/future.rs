//! The breaker's response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::Tracker;
use super::state::Permit;
use crate::classify::Classify;
use crate::rejection::Rejected;

pin_project! {
    /// The future of a [`CircuitBreaker`](super::CircuitBreaker) call: the inner call,
    /// recorded when it ends, or an immediate rejection.
    ///
    /// Dropping it before it ends records nothing and gives back a half-open probe slot.
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
        Running { #[pin] future: F, call: Option<Call<C>> },
        Rejected { rejection: Option<Rejected> },
    }
}

/// One admitted call: what the breaker needs to record it. Dropping it unrecorded gives
/// back what the call held.
#[derive(Debug)]
pub(crate) struct Call<C> {
    pub(crate) tracker: Arc<Tracker<C>>,
    pub(crate) permit: Permit,
    pub(crate) started: Option<Instant>,
}

impl<C> Drop for Call<C> {
    fn drop(&mut self) {
        self.tracker.engine.abandon(self.permit.take());
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn running(future: F, call: Call<C>) -> Self {
        ResponseFuture {
            kind: Kind::Running {
                future,
                call: Some(call),
            },
        }
    }

    pub(crate) fn rejected(rejection: Rejected) -> Self {
        ResponseFuture {
            kind: Kind::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: From<Rejected>,
    C: Classify<T, E>,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Running { future, call } => {
                let result = ready!(future.poll(cx));
                if let Some(mut call) = call.take() {
                    let tracker = &call.tracker;
                    let outcome = tracker.classifier.classify(&result);
                    let slow = match (call.started, tracker.engine.slow_call_duration()) {
                        (Some(started), Some(limit)) => started.elapsed() >= limit,
                        _ => false,
                    };
                    tracker.engine.complete(call.permit.take(), outcome, slow);
                }
                Poll::Ready(result)
            }
            KindProj::Rejected { rejection } => {
                let rejection = rejection.take().expect("polled after completion");
                Poll::Ready(Err(rejection.into()))
            }
        }
    }
}
