//! The retry's response future: attempt, sleep, get ready, attempt again.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::Service;

use super::backoff::Progress;
use super::budget::Withdrawal;
use super::policy::{CallLimits, GiveUp, Next, Policy, Shared, starts_too_late};
use super::{Replay, RetryHint};
use crate::classify::{Classify, Outcome};
use crate::context;
use crate::homed::Homed;
use crate::telemetry::{CallTrace, error_type};
use crate::time::LazyTimer;

pin_project! {
    /// The future of a [`Retry`](super::Retry) call.
    ///
    /// It resolves to the first result that is not retried: a success, a failure that
    /// may not be retried, or the last failure once attempts, time or budget run out.
    /// Dropping it cancels the attempt in flight or the pending sleep, and gives back a
    /// retry taken from the budget but not yet sent.
    ///
    /// ```
    /// use seawall::retry::RetryLayer;
    /// use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let layer = RetryLayer::builder().build()?;
    /// let mut service = layer.layer(service_fn(|x: u8| async move { Ok::<_, BoxError>(x) }));
    /// let future = service.ready().await?.call(7); // this future
    /// assert_eq!(future.await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    pub struct ResponseFuture<S, Req, C, H, R>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S::Future>,
        retry: Option<Retrying<S, Req>>,
        policy: Homed<Policy<C, H, R>>,
        attempts: u32,
        limits: CallLimits,
        // Made at the first retry and kept: a call that succeeds at once never makes
        // it, and its future stays small to move.
        // Made at the call's start instead when the layer makes spans.
        between: Option<Boxed<S::Response, S::Error>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Attempting { #[pin] future: F },
        // Waiting for the backoff delay (`Between::timer`).
        Sleeping,
        // Waiting for the inner service; `Between::timer` wakes it at the call's
        // deadline.
        GettingReady,
    }
}

pin_project! {
    /// What a call needs only between its attempts (and, with spans, from its start).
    pub(crate) struct Between<T, E> {
        #[pin]
        timer: LazyTimer,
        progress: Progress,
        held: Option<Held>,
        // The budget taken by the retry in flight: given back if it succeeds.
        spent: Option<Withdrawal>,
        // The failure a planned retry follows: returned if that retry is not sent.
        last: Option<Result<T, E>>,
        // Time spent between attempts, for gRPC's `retry_delay` (measured only when
        // that metric is recorded): the total so far, and when the current wait began.
        waited: Duration,
        waiting_since: Option<Instant>,
        // The call's spans, when the layer makes them.
        trace: Option<CallTrace>,
    }
}

impl<T, E> Between<T, E> {
    fn new(trace: Option<CallTrace>) -> Self {
        Between {
            timer: LazyTimer::new(),
            progress: Progress::default(),
            held: None,
            spent: None,
            last: None,
            waited: Duration::ZERO,
            waiting_since: None,
            trace,
        }
    }

    /// Boxed from the call's start, to carry the call's spans.
    pub(crate) fn traced(trace: CallTrace) -> Boxed<T, E> {
        Box::pin(Between::new(Some(trace)))
    }
}

/// The box a call makes at its first retry (or its start, with spans).
pub(crate) type Boxed<T, E> = Pin<Box<Between<T, E>>>;

/// The call's spans, if it has them: a clone of the current attempt's span, to enter.
#[inline]
fn attempt_span<T, E>(between: &Option<Boxed<T, E>>) -> Option<tracing::Span> {
    between
        .as_ref()?
        .trace
        .as_ref()
        .map(|t| t.attempt().clone())
}

/// What a retry needs: a clone of the inner service and the request to replay.
pub(crate) struct Retrying<S, Req> {
    pub(crate) service: S,
    pub(crate) request: Req,
}

/// A retry taken from the budget and not yet sent; dropping it gives it back.
struct Held {
    shared: Arc<Shared>,
    withdrawal: Option<Withdrawal>,
}

impl Held {
    /// Holds `withdrawal` until the retry is sent or the call is dropped.
    fn new(shared: Arc<Shared>, withdrawal: Withdrawal) -> Self {
        shared.waiting.fetch_add(1, Relaxed);
        Held {
            shared,
            withdrawal: Some(withdrawal),
        }
    }

    /// The retry is sent: the budget stays taken (unless it succeeds).
    fn spend(mut self) -> Option<Withdrawal> {
        self.withdrawal.take()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shared.waiting.fetch_sub(1, Relaxed);
        if let Some(withdrawal) = self.withdrawal.take() {
            self.shared.budget.refund(withdrawal);
        }
    }
}

impl<S, Req, C, H, R> ResponseFuture<S, Req, C, H, R>
where
    S: Service<Req>,
{
    #[inline]
    pub(crate) fn new(
        future: S::Future,
        retry: Option<Retrying<S, Req>>,
        policy: Homed<Policy<C, H, R>>,
        limits: CallLimits,
        between: Option<Boxed<S::Response, S::Error>>,
    ) -> Self {
        ResponseFuture {
            state: State::Attempting { future },
            retry,
            policy,
            attempts: 1,
            limits,
            between,
        }
    }
}

impl<S, Req, C, H, R> Future for ResponseFuture<S, Req, C, H, R>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error>,
    H: RetryHint<S::Response, S::Error>,
    R: Replay<Req>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Attempting { future } => {
                    let span = attempt_span(this.between);
                    let _entered = span.as_ref().map(tracing::Span::enter);
                    let mut result = ready!(future.poll(cx));
                    let policy = this.policy.get();
                    let attempts = *this.attempts;
                    let replayable = this.retry.is_some();
                    let mut first = Progress::default();
                    let (progress, spent, trace) = match this.between.as_mut() {
                        Some(between) => {
                            let between = between.as_mut().project();
                            (
                                between.progress,
                                between.spent.take(),
                                between.trace.as_ref(),
                            )
                        }
                        None => (&mut first, None, None),
                    };
                    let next = policy.after_attempt(
                        &result,
                        attempts,
                        replayable,
                        progress,
                        *this.limits,
                        spent,
                    );
                    if let Some(trace) = trace {
                        let outcome = match next {
                            Next::Return(outcome) => outcome,
                            Next::Retry(..) => Outcome::Failure,
                        };
                        let error = (outcome == Outcome::Failure).then(|| error_type(&result));
                        trace.attempt_ended(outcome, error);
                    }
                    match next {
                        Next::Return(outcome) => {
                            policy.hints.mark_attempts(&mut result, attempts);
                            if let Some(between) = this.between.as_ref() {
                                let told = (between.trace.as_ref(), between.waited);
                                ended(told, &policy.shared, attempts, outcome, &result);
                            }
                            return Poll::Ready(result);
                        }
                        Next::Retry(delay, withdrawal) => {
                            let between = this.between.get_or_insert_with(|| {
                                let mut between = Between::new(None);
                                between.progress = first;
                                Box::pin(between)
                            });
                            let between = between.as_mut().project();
                            if policy.shared.measures_waits() {
                                *between.waiting_since = Some(Instant::now());
                            }
                            *between.held = withdrawal
                                .is_refundable()
                                .then(|| Held::new(policy.shared.clone(), withdrawal));
                            *between.last = Some(result);
                            let mut timer = between.timer;
                            timer.set(LazyTimer::new());
                            if delay.is_zero() {
                                this.state.set(State::GettingReady);
                            } else {
                                let wake = crate::time::after(Instant::now(), delay);
                                let _ = timer.poll_expired(cx, || wake);
                                this.state.set(State::Sleeping);
                            }
                        }
                    }
                }
                StateProj::Sleeping => {
                    let Some(between) = this.between.as_mut() else {
                        unreachable!("a retry sleeps only after it is planned");
                    };
                    let mut timer = between.as_mut().project().timer;
                    ready!(timer.as_mut().poll_expired(cx, Instant::now));
                    timer.set(LazyTimer::new());
                    this.state.set(State::GettingReady);
                }
                StateProj::GettingReady => {
                    let policy = this.policy.get();
                    let Some(between) = this.between.as_mut() else {
                        unreachable!("a retry gets ready only after it is planned");
                    };
                    let mut between = between.as_mut().project();
                    if starts_too_late(Duration::ZERO) {
                        // The deadline passed while sleeping or getting ready: the
                        // retry is not sent, its budget goes back.
                        between.held.take();
                        let mut result = between.last.take().expect("a retry follows a failure");
                        let error = error_type(&result);
                        in_call(between.trace.as_ref(), || {
                            policy.not_retrying(*this.attempts, GiveUp::Deadline, error);
                        });
                        policy.hints.mark_attempts(&mut result, *this.attempts);
                        let failed = Outcome::Failure;
                        let told = (between.trace.as_ref(), *between.waited);
                        ended(told, &policy.shared, *this.attempts, failed, &result);
                        return Poll::Ready(result);
                    }
                    let Some(retry) = this.retry.as_mut() else {
                        unreachable!("a retry is planned only for a replayable request");
                    };
                    let readiness = match retry.service.poll_ready(cx) {
                        Poll::Pending => {
                            // Not ready yet: wake at the call's deadline, and give up then.
                            if let Some(deadline) = context::current()
                                && between.timer.poll_expired(cx, || deadline).is_ready()
                            {
                                continue;
                            }
                            return Poll::Pending;
                        }
                        Poll::Ready(readiness) => readiness,
                    };
                    if let Err(err) = readiness {
                        // The retry is not sent: its budget goes back.
                        between.held.take();
                        let err = Err(err);
                        let error = error_type(&err);
                        in_call(between.trace.as_ref(), || {
                            policy.not_retrying(*this.attempts, GiveUp::NotReady, error);
                        });
                        let failed = Outcome::Failure;
                        let told = (between.trace.as_ref(), *between.waited);
                        ended(told, &policy.shared, *this.attempts, failed, &err);
                        return Poll::Ready(err);
                    }
                    *this.attempts += 1;
                    let attempt = *this.attempts;
                    if let Some(since) = between.waiting_since.take() {
                        *between.waited += since.elapsed();
                    }
                    if let Some(trace) = between.trace.as_mut() {
                        trace.next_attempt(attempt);
                    }
                    let span = between.trace.as_ref().map(|t| t.attempt().clone());
                    let _entered = span.as_ref().map(tracing::Span::enter);
                    let copy = (attempt < this.limits.max_attempts)
                        .then(|| policy.replay.replay(&retry.request))
                        .flatten();
                    let future = match copy {
                        Some(mut request) => {
                            policy.replay.mark(&mut request, attempt);
                            retry.service.call(request)
                        }
                        None => {
                            let Some(Retrying {
                                mut service,
                                mut request,
                            }) = this.retry.take()
                            else {
                                unreachable!("checked above");
                            };
                            policy.replay.mark(&mut request, attempt);
                            service.call(request)
                        }
                    };
                    if let Some(held) = between.held.take() {
                        *between.spent = held.spend();
                    }
                    *between.last = None;
                    between.timer.set(LazyTimer::new());
                    policy.shared.meter.retry();
                    this.state.set(State::Attempting { future });
                }
            }
        }
    }
}

/// Tells how a retried or traced call ended: its span, and gRPC's per-call metrics.
fn ended<T, E>(
    (trace, waited): (Option<&CallTrace>, Duration),
    shared: &Shared,
    attempts: u32,
    outcome: Outcome,
    result: &Result<T, E>,
) {
    if let Some(trace) = trace {
        let error = (outcome == Outcome::Failure).then(|| error_type(result));
        trace.call_ended(outcome, attempts, error);
    }
    #[cfg(feature = "metrics")]
    if let Some(grpc) = &shared.grpc {
        grpc.record(attempts - 1, waited);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (shared, waited);
}

/// Runs `f` in the call's span, if there is one.
fn in_call(trace: Option<&CallTrace>, f: impl FnOnce()) {
    match trace {
        Some(trace) => trace.call().in_scope(f),
        None => f(),
    }
}

impl<S, Req, C, H, R> fmt::Debug for ResponseFuture<S, Req, C, H, R>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Attempting { .. } => "attempting",
            State::Sleeping => "sleeping",
            State::GettingReady => "getting ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
