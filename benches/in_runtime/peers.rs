//! What `in_runtime` drives besides seawall: small `tower::Service` wrappers around the
//! peers that have no tower layer (recloser, failsafe, governor), a service that only
//! reads a clock, tower `Retry` policies, and the inner services that fail or speak
//! `http`.
//!
//! Each wrapper calls the inner service and hands its future to the peer, the way the
//! peer's own future API is meant to be used; none adds a box or an allocation of its own.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use failsafe::futures::CircuitBreaker as _;
use failsafe::{StateMachine, backoff, failure_policy};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use pin_project_lite::pin_project;
use recloser::{AnyError, AsyncRecloser, Recloser, RecloserFuture};
use tower::retry::Policy;
use tower::{BoxError, Layer, Service};

/// The inner call's own error: a unit struct, so boxing it does not allocate.
#[derive(Clone, Copy, Debug)]
pub struct Fail;

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inner call failed")
    }
}

impl std::error::Error for Fail {}

/// Fails at once: the inner service that trips the breakers of the open rows.
#[derive(Clone, Copy)]
pub struct Failing;

impl Service<u64> for Failing {
    type Response = u64;
    type Error = BoxError;
    type Future = Ready<Result<u64, BoxError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: u64) -> Self::Future {
        ready(Err(BoxError::from(Fail)))
    }
}

/// The body of the `http` rows' requests. `StandardPipeline::http` replays a request only
/// if its body is an `http_body::Body` and `Clone`, which `()` is not; an empty `String`
/// is both, and cloning it does not allocate.
pub type HttpBody = String;

/// Answers every `http` request at once with an empty 200.
#[derive(Clone, Copy)]
pub struct HttpOk;

impl Service<http::Request<HttpBody>> for HttpOk {
    type Response = http::Response<()>;
    type Error = BoxError;
    type Future = Ready<Result<http::Response<()>, BoxError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<HttpBody>) -> Self::Future {
        ready(Ok(http::Response::new(())))
    }
}

/// A bare `GET /` request, made anew for each call.
pub fn http_request(_: u64) -> http::Request<HttpBody> {
    http::Request::new(HttpBody::new())
}

// recloser

/// recloser judging the last `len` calls, open for `open_wait`.
pub fn recloser(len: usize, open_wait: Duration) -> Recloser {
    Recloser::custom()
        .closed_len(len)
        .open_wait(open_wait)
        .build()
}

/// recloser's `AsyncRecloser` around each call's future.
#[derive(Clone)]
pub struct RecloserService<S> {
    breaker: AsyncRecloser,
    inner: S,
}

#[derive(Clone)]
pub struct RecloserLayer(pub AsyncRecloser);

impl<S> Layer<S> for RecloserLayer {
    type Service = RecloserService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RecloserService {
            breaker: self.0.clone(),
            inner,
        }
    }
}

impl<S: Service<R>, R> Service<R> for RecloserService<S> {
    type Response = S::Response;
    type Error = recloser::Error<S::Error>;
    type Future = RecloserFuture<S::Future, AnyError>;
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(recloser::Error::Inner)
    }
    #[inline]
    fn call(&mut self, req: R) -> Self::Future {
        // recloser asks for permission when the future is first polled, so the inner
        // call is made even when the breaker will reject it (as with failsafe).
        self.breaker.call(self.inner.call(req))
    }
}

// failsafe

pub type Failsafe = StateMachine<failure_policy::ConsecutiveFailures<backoff::Constant>, ()>;

/// failsafe opening after `failures` failures in a row, for `open`.
pub fn failsafe(failures: u32, open: Duration) -> Failsafe {
    let policy = failure_policy::consecutive_failures(failures, backoff::constant(open));
    failsafe::Config::new().failure_policy(policy).build()
}

/// failsafe's futures API (`failsafe::futures::CircuitBreaker::call`) around each call.
#[derive(Clone)]
pub struct FailsafeService<S> {
    breaker: Failsafe,
    inner: S,
}

impl<S> FailsafeService<S> {
    pub fn new(breaker: Failsafe, inner: S) -> Self {
        FailsafeService { breaker, inner }
    }
}

type FailsafeFuture<F> = failsafe::futures::ResponseFuture<
    F,
    failure_policy::ConsecutiveFailures<backoff::Constant>,
    (),
    failsafe::Any,
>;

impl<S: Service<R>, R> Service<R> for FailsafeService<S> {
    type Response = S::Response;
    type Error = failsafe::Error<S::Error>;
    type Future = FailsafeFuture<S::Future>;
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(failsafe::Error::Inner)
    }
    #[inline]
    fn call(&mut self, req: R) -> Self::Future {
        self.breaker.call(self.inner.call(req))
    }
}

// governor

/// governor's direct (unkeyed) limiter checked before each call; refused calls fail at
/// once, as seawall's fail-fast limiter does.
#[derive(Clone)]
pub struct Governed<S> {
    limiter: Arc<DefaultDirectRateLimiter>,
    inner: S,
}

impl<S> Governed<S> {
    /// `per_second` calls a second, as one burst.
    pub fn new(per_second: u32, inner: S) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(per_second).expect("a rate above 0"));
        Governed {
            limiter: Arc::new(RateLimiter::direct(quota)),
            inner,
        }
    }
}

/// governor's refusal, as an error.
#[derive(Debug)]
pub struct RateLimited;

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rate limited")
    }
}

impl std::error::Error for RateLimited {}

pin_project! {
    /// The inner call's future, or governor's refusal.
    #[project = CheckedProj]
    pub enum Checked<F> {
        Allowed { #[pin] inner: F },
        Refused,
    }
}

impl<F: Future<Output = Result<T, BoxError>>, T> Future for Checked<F> {
    type Output = Result<T, BoxError>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CheckedProj::Allowed { inner } => inner.poll(cx),
            CheckedProj::Refused => Poll::Ready(Err(BoxError::from(RateLimited))),
        }
    }
}

impl<S, R> Service<R> for Governed<S>
where
    S: Service<R, Error = BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Checked<S::Future>;
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }
    #[inline]
    fn call(&mut self, req: R) -> Self::Future {
        match self.limiter.check() {
            Ok(()) => Checked::Allowed {
                inner: self.inner.call(req),
            },
            Err(_) => Checked::Refused,
        }
    }
}

// the clock alone

/// Reads a clock on each call, then calls the inner service: what a clock read adds to a
/// call, in the same run as the rate limiters.
#[derive(Clone, Copy)]
pub struct ReadsClock<S, N> {
    inner: S,
    now: N,
}

impl<S, N> ReadsClock<S, N> {
    /// `now` is a function item (`std::time::Instant::now`, `tokio::time::Instant::now`),
    /// so the read is a direct call.
    pub fn new(now: N, inner: S) -> Self {
        ReadsClock { inner, now }
    }
}

impl<S: Service<R>, R, N: Fn() -> T, T> Service<R> for ReadsClock<S, N> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }
    #[inline]
    fn call(&mut self, req: R) -> Self::Future {
        std::hint::black_box((self.now)());
        self.inner.call(req)
    }
}

// tower `Retry` policies

/// Never retries, but keeps a copy of the request as a retrying policy must: tower
/// `Retry`'s own cost with no budget to consult.
#[derive(Clone, Copy)]
pub struct NeverRetry;

impl<E> Policy<u64, u64, E> for NeverRetry {
    type Future = Ready<()>;

    fn retry(&mut self, _: &mut u64, _: &mut Result<u64, E>) -> Option<Self::Future> {
        None
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}
