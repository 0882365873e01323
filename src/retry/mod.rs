//! Retry: send a failed call again, after a jittered backoff, within a budget that keeps
//! retries from turning a struggling backend into a dead one.
//!
//! # What is retried
//!
//! Each attempt's result is classified by the crate's shared [`Classify`] (default:
//! [`ErrorsAreFailures`]). Successes and ignored results are returned; a failure is
//! retried unless one of these says stop, checked in this order:
//!
//! 1. the attempt was the last one ([`max_attempts`](Builder::max_attempts), the first
//!    call included), or the request cannot be replayed ([`Replay`]);
//! 2. the result's [`Hint`]: a refusal by a layer inside the retry (an open breaker, a
//!    full bulkhead) goes back to the caller at once, or with
//!    [`retry_refusals`](Builder::retry_refusals) is retried after its
//!    [`retry_after`](crate::Rejected::retry_after) and not at all without one; an HTTP
//!    `Retry-After` is waited for (`http` feature); a hint above
//!    [`max_hint`](Builder::max_hint) means stop; an attempt timeout counts toward the
//!    backoff ([`backoff_includes_timeout`](Builder::backoff_includes_timeout));
//! 3. the delay would pass [`max_elapsed`](Builder::max_elapsed), or reach the call's
//!    [`deadline`](mod@crate::deadline): the last failure is returned at once rather than
//!    sleeping past it;
//! 4. the budget is spent: the last failure is returned at once.
//!
//! Responses can be failures too: pass a classifier that looks at them.
//!
//! **No attempt starts once the call's deadline has passed**, whatever the delay (a zero
//! backoff or a zero hint included): a retry is planned only if its delay ends before
//! the deadline, and a planned retry whose deadline passes while it sleeps or waits for
//! the inner service to get ready is not sent. The last failure is returned instead, and
//! the retry's budget goes back. (That failure is kept until the retry is sent.)
//!
//! # Choosing a backoff and a jitter
//!
//! * [`exponential`](Builder::exponential) (the default, 100 ms doubling up to 10 s)
//!   suits remote calls: quick first retry, then backing off a dependency that stays
//!   down. [`linear`](Builder::linear) and [`constant`](Builder::constant) suit local
//!   contention (a lock, a full queue) that clears at a steady pace.
//! * Always jitter when more than one client retries. [`Jitter::Full`] (the default)
//!   spreads retries the most; [`Jitter::Equal`] keeps at least half the backoff;
//!   [`Jitter::Proportional`] keeps delays close to the curve (gRPC's ±20 %);
//!   [`Jitter::DecorrelatedV2`] gives smoothly spread, exponentially growing delays
//!   without the spikes of the AWS [`Jitter::Decorrelated`] form. No jitter ever exceeds
//!   the backoff's maximum.
//! * Your own [`Backoff`] replaces all of that.
//!
//! # Why budgets are on by default
//!
//! Without a budget, three attempts turn an outage into three times the load, just when
//! the backend can least take it. The default budget (Finagle's: retries up to 20 % of
//! the requests of the last 10 s, plus 10 retries a second for quiet periods, never
//! more than 10 of those at once) costs nothing while calls succeed and caps the retries
//! that fail at 20 % of the calls (or 10 a second, whichever is more); a retry that
//! succeeds gives its share back, so a partial failure that retries cure is not cut
//! short. It is
//! created by [`Builder::build`], so every service and clone of a layer shares it;
//! [`throttle`](Builder::throttle) selects gRPC's retry throttling instead, and
//! [`no_budget`](Builder::no_budget) turns budgets off.
//!
//! # Where retry goes in a stack
//!
//! Outermost first: a total deadline for the whole call, then retry, then the circuit
//! breaker, then a timeout per attempt. The breaker sees every attempt, so it trips on
//! the real failure rate, and its rejections carry the time it stays open, which the
//! retry honours instead of hammering it. Each attempt has its own timeout, so a hung
//! attempt becomes a retryable failure, and the outer deadline bounds all of them.
//!
//! ```
//! use seawall::circuit_breaker::CircuitBreakerLayer;
//! use seawall::deadline::DeadlineLayer;
//! use seawall::retry::RetryLayer;
//! use seawall::timeout::AttemptTimeoutLayer;
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let mut client = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(10))?) // total: all attempts and sleeps
//!     .layer(RetryLayer::builder().max_attempts(3).build()?) // never sleeps past the deadline
//!     .layer(CircuitBreakerLayer::builder().build()?) // sees every attempt
//!     .layer(AttemptTimeoutLayer::new(Duration::from_secs(2))?) // each attempt
//!     .service(service_fn(|name: &'static str| async move { Ok::<_, BoxError>(name.len()) }));
//!
//! assert_eq!(client.ready().await?.call("seawall").await?, 7);
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! * The inner service must be `Clone`: each retry calls `poll_ready` on a clone of it,
//!   then `call`, so inner concurrency limits hold.
//! * The error type is the inner service's. The default hint reader needs
//!   `E: `[`AsRejected`](crate::AsRejected) (true of `BoxError` and
//!   [`seawall::Error`](crate::Error)); with other errors use [`NoHint`].
//! * A first attempt that succeeds takes no lock, allocates nothing beyond what cloning
//!   the request and the inner service does, boxes no future and draws no random
//!   number; cloning a retry service allocates nothing either (a clone shares its
//!   service's reference count; a service kept on another thread takes one of its own
//!   there, once). Each service clone counts its requests in a plain
//!   integer and adds them to the shared budget 64 at a time (and when it is dropped);
//!   the budget reads the clock about once per 256 requests. A clone's latest requests
//!   thus reach the budget late, which only ever lowers it; the reserve of retries per
//!   second covers the gap. [`max_elapsed`](Builder::max_elapsed), when set, reads the
//!   clock once per call.
//! * A `tracing` event (target `seawall::retry`, level debug) is emitted for every retry
//!   with the attempt number, the delay and the reason, and when a failure is returned
//!   with why it was not retried.
//! * [`RetryLayer::handle`] changes [`max_attempts`](RetryHandle::set_max_attempts),
//!   [`max_elapsed`](RetryHandle::set_max_elapsed) and
//!   [`max_hint`](RetryHandle::set_max_hint) while calls run, for every service of the
//!   layer; a call reads them with a relaxed atomic load each, and keeps the attempts
//!   and the time limit it started with.

mod backoff;
mod budget;
mod builder;
mod config;
#[cfg(feature = "redis")]
mod fleet;
mod future;
mod handle;
mod hint;
#[cfg(feature = "http")]
pub mod http;
mod jitter;
mod layer;
#[cfg(all(test, seawall_loom))]
mod models;
mod observe;
mod policy;
mod replay;

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

pub use backoff::Backoff;
pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::{BudgetConfig, RetryConfig};
pub use future::ResponseFuture;
pub use handle::RetryHandle;
pub use hint::{Hint, NoHint, RejectionHint, RetryHint};
pub use jitter::Jitter;
pub use layer::RetryLayer;
pub use replay::{CloneRequest, Replay};

use crate::classify::{Classify, ErrorsAreFailures};
use crate::homed::Homed;
use budget::LOCAL_BATCH;
use future::Retrying;
use policy::{CallLimits, Policy, Shared};

/// A service whose failed calls are retried; made by [`RetryLayer`].
///
/// ```
/// use seawall::retry::RetryLayer;
/// use tower::Layer;
///
/// let layer = RetryLayer::builder().build()?;
/// let service = layer.layer(7_u8);
/// assert_eq!(*service.get_ref(), 7);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Retry<S, C = ErrorsAreFailures, H = RejectionHint, R = CloneRequest> {
    inner: S,
    policy: Homed<Policy<C, H, R>>,
    unreported: Unreported,
}

/// Requests this service clone sent but has not yet added to the shared budget: a plain
/// counter, so that a call touches no shared memory for the budget.
#[derive(Debug)]
struct Unreported {
    requests: u32,
    shared: Arc<Shared>,
}

impl Unreported {
    #[inline]
    fn count_one(&mut self) {
        self.requests += 1;
        if self.requests == LOCAL_BATCH {
            self.report();
        }
    }

    fn report(&mut self) {
        if self.requests > 0 {
            self.shared.budget.add_requests(self.requests);
            self.requests = 0;
        }
    }
}

impl Drop for Unreported {
    fn drop(&mut self) {
        self.report();
    }
}

impl<S, C, H, R> Retry<S, C, H, R> {
    pub(crate) fn new(inner: S, policy: Homed<Policy<C, H, R>>) -> Self {
        let unreported = Unreported {
            requests: 0,
            shared: policy.get().shared.clone(),
        };
        Retry {
            inner,
            policy,
            unreported,
        }
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use tower::Layer;
    /// let service = RetryLayer::builder().build().unwrap().layer("inner");
    /// assert_eq!(*service.get_ref(), "inner");
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use tower::Layer;
    /// let mut service = RetryLayer::builder().build().unwrap().layer(1_u8);
    /// *service.get_mut() = 2;
    /// assert_eq!(*service.get_ref(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use tower::Layer;
    /// assert_eq!(RetryLayer::builder().build().unwrap().layer(7_u8).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, C, H, R> Clone for Retry<S, C, H, R> {
    /// Shares the policy and its reference count: cloning allocates nothing.
    fn clone(&self) -> Self {
        Retry::new(self.inner.clone(), self.policy.share())
    }
}

impl<S, C, H, R, Req> Service<Req> for Retry<S, C, H, R>
where
    S: Service<Req> + Clone,
    C: Classify<S::Response, S::Error> + Clone,
    H: RetryHint<S::Response, S::Error> + Clone,
    R: Replay<Req> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req, C, H, R>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline(always)]
    fn call(&mut self, req: Req) -> Self::Future {
        self.policy.come_home();
        let policy = self.policy.get();
        let shared = &policy.shared;
        self.unreported.count_one();
        let limits = CallLimits::now(&shared.limits);
        let copy = if limits.max_attempts > 1 {
            policy.replay.replay(&req)
        } else {
            None
        };
        let (future, between) = if policy.spans {
            let trace = crate::telemetry::CallTrace::start("retry", &shared.name);
            let future = trace.attempt().in_scope(|| self.inner.call(req));
            (future, Some(future::Between::traced(trace)))
        } else {
            (self.inner.call(req), None)
        };
        let retry = copy.map(|request| Retrying {
            service: self.inner.clone(),
            request,
        });
        ResponseFuture::new(future, retry, self.policy.share(), limits, between)
    }
}
