//! Per-endpoint health for `tower::balance` (feature `balance`): each endpoint of a
//! dependency gets its own circuit breaker, all of them in one
//! [`Group`], and an endpoint whose breaker is open is
//! **not ready**, so tower's power-of-two-choices balancer simply picks among the
//! others. Ejection is the breaker opening, re-admission its half-open probes: the
//! breaker's own detectors, classification, open-duration backoff and events, not a
//! second state machine.
//!
//! # What it guarantees
//!
//! * **An ejected endpoint takes no calls** while enough others are healthy: its
//!   `poll_ready` is pending until its open period ends (a timer wakes the balancer).
//! * **Re-admission through probes.** When the period ends, the endpoint is ready for
//!   as many calls as the breaker's half-open probes (a slot is taken in `poll_ready`
//!   and given back if the call never comes); their verdict closes it or ejects it again
//!   for longer.
//! * **Max ejection, counted with the candidate.** At most
//!   [`max_ejection`](Builder::max_ejection) of the endpoints are ejected at once
//!   (1 of 3 at 34 % is allowed, 2 of 3 are not), and one may always be, unless
//!   [`always_eject_one`](Builder::always_eject_one) is off.
//! * **Panic mode.** When fewer than [`panic_below`](Builder::panic_below) of the
//!   endpoints are healthy, every endpoint is ready again and calls to ejected ones
//!   bypass their breakers: a dependency in trouble everywhere gets the traffic spread
//!   over all of it, rather than on the few left or on none.
//! * **Ejections grow and are forgiven.** Each ejection of an endpoint that keeps failing
//!   lasts twice the last (1 s up to 30 s by default, ±10 %); each 10 s it stays
//!   healthy forgets one (the breaker's
//!   [`open_backoff_decay`](crate::circuit_breaker::Builder::open_backoff_decay)).
//! * **A retry goes elsewhere.** After a failed call an endpoint loses its next
//!   comparisons of load ([`passed_over_after_failure`](Builder::passed_over_after_failure)),
//!   so the retry of that call is sent to another endpoint (tower's p2c picks before it
//!   sees the request, so this is how far a balancer of it can steer), and an endpoint
//!   that fails fast stops looking lightly loaded.
//! * Nothing on a call's path takes a lock or allocates: a call through a healthy
//!   endpoint is one breaker admission (an atomic load) and its recording; a comparison
//!   of its load adds one atomic load.
//!
//! # Detectors
//!
//! * **Consecutive failures, failure rate** (with a minimum volume): each endpoint's
//!   breaker, set through [`Builder::breaker`] (`consecutive_failures(5)` is Envoy's
//!   consecutive-5xx; a classifier that counts only 502–504 makes it consecutive gateway
//!   errors).
//! * **Success rate relative to the peers** (`mean − k·stdev`):
//!   [`Builder::success_rate_outliers`], run every second on the endpoints' windows.
//!
//! Slow calls count as failures through an attempt timeout inside each endpoint
//! ([`AttemptTimeoutLayer`](crate::timeout::AttemptTimeoutLayer)).
//!
//! # Example
//!
//! ```
//! use seawall::balance::Endpoints;
//! use seawall::Ratio;
//! use tower::balance::p2c::Balance;
//! use tower::discover::ServiceList;
//! use tower::load::PendingRequestsDiscover;
//! # use tower::{service_fn, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let endpoints = Endpoints::builder()
//!     .name("inventory")
//!     .max_ejection(Ratio::percent(50.0))
//!     .breaker(|b| b.consecutive_failures(5))
//!     .build()?;
//! let replicas = (0..3).map(|i| {
//!     let replica = service_fn(move |n: u32| async move { Ok::<_, std::io::Error>(n + i) });
//!     endpoints.endpoint(format!("10.0.0.{i}:80"), tower::load::Constant::new(replica, 0))
//! });
//! let balancer = Balance::new(ServiceList::new(replicas));
//! let answer = balancer.oneshot(1).await?;
//! assert!((1..4).contains(&answer));
//! # Ok(())
//! # }
//! ```

mod builder;
mod future;
mod outliers;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use tower::Service;

use crate::circuit_breaker::{CircuitBreakerHandle, Group, OwnedCallPermit};

pub use builder::{Builder, Endpoints};
pub use future::ResponseFuture;

/// How long a pending ejected endpoint waits at most before it looks again (for a panic
/// that began, or a probe slot given back).
const RECHECK: Duration = Duration::from_millis(100);

/// What every endpoint of one dependency shares.
#[derive(Debug)]
pub(crate) struct Shared {
    group: Group,
    /// Panic when the healthy share falls below this fraction.
    panic_below: f64,
    /// The endpoints' breakers, for the success-rate detector (kept only when it runs;
    /// a cold lock, never taken on a call's path).
    members: std::sync::Mutex<Vec<std::sync::Weak<CircuitBreakerHandle>>>,
    watched: bool,
    /// The endpoint names given out so far, at most `most_names` (a cold lock, taken
    /// when an endpoint is made).
    names: std::sync::Mutex<std::collections::HashSet<String>>,
    most_names: usize,
    /// Comparisons an endpoint loses after a failed call.
    passes: u32,
}

impl Shared {
    /// The live endpoints' breakers (dropped endpoints are forgotten).
    fn members(&self) -> Vec<Arc<CircuitBreakerHandle>> {
        let mut list = self.members.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|m| m.strong_count() > 0);
        list.iter().filter_map(std::sync::Weak::upgrade).collect()
    }

    /// The name an endpoint's breaker gets: its own while there is room, else `other`.
    fn label(&self, key: String) -> String {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.contains(&key) || names.len() < self.most_names {
            names.insert(key.clone());
            key
        } else {
            "other".to_owned()
        }
    }

    fn join(&self, breaker: &Arc<CircuitBreakerHandle>) {
        if self.watched {
            let mut list = self.members.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|m| m.strong_count() > 0);
            list.push(Arc::downgrade(breaker));
        }
    }

    /// Whether too few endpoints are healthy to keep ejecting (a cold path: the group
    /// is counted under its lock).
    fn panicking(&self) -> bool {
        let members = self.group.members();
        let healthy = members.saturating_sub(self.group.open());
        members > 0 && (healthy as f64) < self.panic_below * members as f64
    }
}

/// One endpoint of a balanced dependency: ready when its breaker admits a call (or the
/// dependency is in panic), pending while it is ejected. Made by
/// [`Endpoints::endpoint`]; implements [`tower::load::Load`] by its inner service's
/// load, after a failure first (see [`EndpointLoad`]).
///
/// ```
/// # use seawall::balance::Endpoints;
/// # use tower::ServiceExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let endpoints = Endpoints::builder().build()?;
/// let endpoint = endpoints.endpoint("a", tower::service_fn(|()| async { Ok::<_, std::io::Error>(7) }));
/// assert_eq!(endpoint.breaker().name(), "endpoints/a");
/// assert_eq!(endpoint.oneshot(()).await?, 7);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Endpoint<S, C = crate::ErrorsAreFailures> {
    inner: S,
    breaker: Arc<CircuitBreakerHandle>,
    classifier: C,
    shared: Arc<Shared>,
    /// What `poll_ready` decided for the next call.
    admitted: Admitted,
    /// Wakes the balancer when an ejection may be over (made on first ejection).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    penalty: Penalty,
}

/// The comparisons an endpoint has lost since its last failure (atomics written only by
/// the balancer that owns the endpoint, as a plain load and store).
#[derive(Debug, Default)]
struct Penalty {
    /// The breaker's count of failures when last compared.
    seen: AtomicU64,
    /// Comparisons lost since that failure.
    passes: AtomicU32,
}

impl Penalty {
    /// Whether an endpoint whose breaker has judged `failures` so far loses this
    /// comparison: at most `most` after each failure.
    #[inline]
    fn applies(&self, failures: u64, most: u32) -> bool {
        if failures != self.seen.load(Relaxed) {
            self.seen.store(failures, Relaxed); // a new failure: lose the next `most`
            self.passes.store(0, Relaxed);
        }
        let passes = self.passes.load(Relaxed);
        if passes >= most {
            return false;
        }
        self.passes.store(passes + 1, Relaxed);
        true
    }
}

/// An endpoint's load as the balancer compares it: an endpoint passed over after a
/// failed call (see [`Builder::passed_over_after_failure`]) is heavier than any other,
/// then the inner service's load decides.
///
/// ```
/// use seawall::balance::EndpointLoad;
/// let failed = EndpointLoad { failed: true, load: 0 };
/// let busy = EndpointLoad { failed: false, load: 9 };
/// assert!(busy < failed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct EndpointLoad<M> {
    /// Whether the endpoint is passed over after a failed call.
    pub failed: bool,
    /// The inner service's load.
    pub load: M,
}

#[derive(Debug)]
enum Admitted {
    /// Not decided yet.
    No,
    /// Through the breaker, with its permit.
    Permit(OwnedCallPermit),
    /// Around it: the dependency is in panic.
    Panic,
}

impl<S, C> Endpoint<S, C> {
    /// This endpoint's breaker: its state is the endpoint's health.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// # use seawall::circuit_breaker::State;
    /// let endpoints = Endpoints::builder().build()?;
    /// let endpoint = endpoints.endpoint("a", tower::service_fn(|()| async { Ok::<_, ()>(()) }));
    /// assert_eq!(endpoint.breaker().state(), State::Closed);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn breaker(&self) -> &CircuitBreakerHandle {
        &self.breaker
    }

    /// The inner service.
    ///
    /// ```
    /// # use seawall::balance::Endpoints;
    /// let endpoints = Endpoints::builder().build()?;
    /// let endpoint = endpoints.endpoint("a", 42_u8);
    /// assert_eq!(*endpoint.get_ref(), 42);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Waits (registering `cx`) until the ejection may be over, at most [`RECHECK`].
    fn wait(&mut self, cx: &mut Context<'_>, left: Option<Duration>) -> Poll<()> {
        let wait = left
            .unwrap_or(RECHECK)
            .clamp(Duration::from_millis(1), RECHECK);
        let at = tokio::time::Instant::now() + wait;
        let timer = match &mut self.timer {
            Some(timer) => {
                timer.as_mut().reset(at);
                timer
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        timer.as_mut().poll(cx)
    }
}

impl<S, C, Req> Service<Req> for Endpoint<S, C>
where
    S: Service<Req>,
    C: crate::Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        loop {
            if !matches!(self.admitted, Admitted::No) {
                return self.inner.poll_ready(cx);
            }
            match self.breaker.try_acquire_owned() {
                Ok(permit) => self.admitted = Admitted::Permit(permit),
                Err(_) if self.shared.panicking() => self.admitted = Admitted::Panic,
                Err(refused) => {
                    if self.wait(cx, refused.retry_after()).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let permit = match std::mem::replace(&mut self.admitted, Admitted::No) {
            Admitted::Permit(permit) => Some(permit),
            // Called without `poll_ready` (against tower's rule): judged as admitted.
            Admitted::No => self.breaker.try_acquire_owned().ok(),
            Admitted::Panic => None,
        };
        ResponseFuture::new(self.inner.call(request), permit, self.classifier.clone())
    }
}

impl<S: tower::load::Load, C> tower::load::Load for Endpoint<S, C> {
    type Metric = EndpointLoad<S::Metric>;

    #[inline]
    fn load(&self) -> Self::Metric {
        // Passed over while the last call failed (its breaker's run of failures), for
        // at most a few comparisons after each failure.
        let failed = self.breaker.failures_in_a_row() != 0
            && self
                .penalty
                .applies(self.breaker.failures_seen(), self.shared.passes);
        EndpointLoad {
            failed,
            load: self.inner.load(),
        }
    }
}
