//! The standard pipeline: the recommended stack, in the recommended order, in one call.
//!
//! Outermost first:
//!
//! 1. **bulkhead** — at most 1000 calls at once, none queued: a caller that would only
//!    add to an overload is refused at once;
//! 2. **deadline** — 30 s for the whole call, every attempt and backoff included;
//! 3. **retry** — 3 attempts, exponential from 100 ms with full jitter, within a budget
//!    that successful retries do not spend; a timed-out attempt counts toward its
//!    backoff, and a local refusal (the breaker's) goes back to the caller at once;
//! 4. **circuit breaker** — opens when the last 100 calls prove, at 99.99 % confidence,
//!    a failure rate of 50 % or more (14 failures in a row do), then probes once a
//!    second, each probe timed from the last one's start;
//! 5. **attempt timeout** — 10 s per attempt.
//!
//! Each layer keeps its own defaults, so the pipeline behaves as the layers composed by
//! hand; the limits and timeouts are those of Microsoft's standard HTTP resilience
//! handler (`Microsoft.Extensions.Http.Resilience`, built on Polly v8). The other
//! defaults were chosen in the outage simulator (`docs/OUTCOMES.md`, [`crate::sim`]):
//! Polly's own (10 % over 30 s, a 5 s open period, four attempts from a 2 s backoff)
//! turned a 30 % brownout into 91 % failures and healed 2.75 s after the dependency on
//! average. Every layer can be changed through the builder, and the builder applies
//! Polly's cross-checks: the attempt timeout may not exceed the total timeout, and a
//! time-based breaker must sample at least twice the attempt timeout.
//!
//! ```
//! use seawall::pipeline::StandardPipeline;
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let pipeline = StandardPipeline::builder()
//!     .name("payments")
//!     .attempt_timeout(Duration::from_secs(2))
//!     .retry(|retry| retry.max_attempts(3))
//!     .build()?;
//! let breaker = pipeline.circuit_breaker(); // handles to every stateful layer
//!
//! let mut client = ServiceBuilder::new()
//!     .layer(pipeline)
//!     .service(service_fn(|amount: u64| async move { Ok::<_, BoxError>(amount) }));
//! assert_eq!(client.ready().await?.call(42).await?, 42);
//! # let _ = breaker;
//! # Ok(())
//! # }
//! ```
//!
//! With the `http` feature, [`StandardPipeline::http`] starts from the HTTP settings:
//! 408, 429, 5xx and transport errors are failures, `Retry-After` and
//! `grpc-retry-pushback-ms` set the next delay, and requests with small bodies are
//! replayed.

mod builder;
#[cfg(feature = "serde")]
mod config;

use tower::Layer;

pub use builder::Builder;
#[cfg(feature = "serde")]
pub use config::PipelineConfig;

use crate::bulkhead::{Bulkhead, BulkheadHandle, BulkheadLayer};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerHandle, CircuitBreakerLayer};
use crate::classify::ErrorsAreFailures;
use crate::deadline::{Deadline, DeadlineLayer};
use crate::limit::{Bound, TimeLimitHandle};
use crate::retry::{CloneRequest, RejectionHint, Retry, RetryHandle, RetryLayer};
use crate::timeout::{AttemptTimeout, AttemptTimeoutLayer};

/// The service a [`StandardPipeline`] makes of an inner service `S`.
///
/// ```
/// use seawall::pipeline::{StandardPipeline, StandardService};
/// use tower::{BoxError, Layer};
///
/// #[derive(Clone)]
/// struct Backend;
/// # impl tower::Service<u8> for Backend {
/// #     type Response = u8;
/// #     type Error = BoxError;
/// #     type Future = std::future::Ready<Result<u8, BoxError>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), BoxError>> {
/// #         std::task::Poll::Ready(Ok(()))
/// #     }
/// #     fn call(&mut self, x: u8) -> Self::Future { std::future::ready(Ok(x)) }
/// # }
///
/// // A field's type can be named:
/// struct Client {
///     inner: StandardService<Backend>,
/// }
/// let client = Client { inner: StandardPipeline::builder().build()?.layer(Backend) };
/// # let _ = client.inner;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub type StandardService<S, C = ErrorsAreFailures, H = RejectionHint, R = CloneRequest> =
    Bulkhead<Deadline<Retry<CircuitBreaker<AttemptTimeout<S>, C>, C, H, R>>>;

/// The standard pipeline, built; a [`Layer`] like any other.
///
/// Its stateful layers (bulkhead, retry budget, breaker) were created by
/// [`Builder::build`], so every service it makes, and every clone, shares them.
///
/// ```
/// use seawall::pipeline::StandardPipeline;
/// let pipeline = StandardPipeline::builder().name("search").build()?;
/// assert_eq!(pipeline.circuit_breaker().name(), "search");
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct StandardPipeline<C = ErrorsAreFailures, H = RejectionHint, R = CloneRequest> {
    bulkhead: BulkheadLayer,
    deadline: DeadlineLayer,
    retry: RetryLayer<C, H, R>,
    breaker: CircuitBreakerLayer<C>,
    attempt: AttemptTimeoutLayer,
    timeouts: Timeouts,
}

/// What the pipeline's timeout handles need to keep its cross-checks while they change.
#[derive(Clone, Debug)]
struct Timeouts {
    name: std::sync::Arc<str>,
    /// Half a time-based breaker window: the longest attempt timeout it allows.
    window_ceiling: Option<std::time::Duration>,
    lock: std::sync::Arc<std::sync::Mutex<()>>,
}

impl StandardPipeline {
    /// Starts from the standard defaults; see the [module docs](self).
    ///
    /// ```
    /// use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<C, H, R> StandardPipeline<C, H, R> {
    /// The circuit breaker's handle: state, metrics, manual control, reload.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// # use seawall::circuit_breaker::State;
    /// let pipeline = StandardPipeline::builder().build()?;
    /// assert_eq!(pipeline.circuit_breaker().state(), State::Closed);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn circuit_breaker(&self) -> CircuitBreakerHandle {
        self.breaker.handle()
    }

    /// The bulkhead's handle: in-flight count and limit.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().build()?;
    /// assert_eq!(pipeline.bulkhead().max_concurrent(), 1000);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn bulkhead(&self) -> BulkheadHandle {
        self.bulkhead.handle()
    }

    /// The total timeout's handle: read or change the whole call's time limit while
    /// calls run (calls already running keep theirs). It keeps the pipeline's
    /// cross-check: never below the attempt timeout.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// # use std::time::Duration;
    /// let pipeline = StandardPipeline::builder().build()?;
    /// pipeline.total_timeout().set(Duration::from_secs(10))?;
    /// assert_eq!(pipeline.total_timeout().get(), Duration::from_secs(10));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn total_timeout(&self) -> TimeLimitHandle {
        self.deadline.handle().bounded(Bound {
            other: self.attempt.handle().shared(),
            at_most: false,
            this_field: "total_timeout",
            other_field: "attempt_timeout",
            ceiling: None,
            within: self.timeouts.name.clone(),
            lock: self.timeouts.lock.clone(),
        })
    }

    /// The attempt timeout's handle: read or change each attempt's time limit while
    /// calls run. It keeps the pipeline's cross-checks: never above the total timeout,
    /// nor above half a time-based breaker window. To raise both, raise the total
    /// timeout first; to lower both, lower the attempt timeout first.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// # use std::time::Duration;
    /// let pipeline = StandardPipeline::builder().build()?;
    /// assert_eq!(pipeline.attempt_timeout().get(), Duration::from_secs(10));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn attempt_timeout(&self) -> TimeLimitHandle {
        self.attempt.handle().bounded(Bound {
            other: self.deadline.handle().shared(),
            at_most: true,
            this_field: "attempt_timeout",
            other_field: "total_timeout",
            ceiling: self
                .timeouts
                .window_ceiling
                .map(|most| (most, "circuit_breaker time window / 2")),
            within: self.timeouts.name.clone(),
            lock: self.timeouts.lock.clone(),
        })
    }

    /// The retry's handle: attempts, `max_elapsed` and `max_hint`, read and changed live.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().build()?;
    /// pipeline.retry().set_max_attempts(2)?;
    /// assert_eq!(pipeline.retry().max_attempts(), 2);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn retry(&self) -> RetryHandle {
        self.retry.handle()
    }
}

impl<S, C: Clone, H: Clone, R: Clone> Layer<S> for StandardPipeline<C, H, R> {
    type Service = StandardService<S, C, H, R>;

    fn layer(&self, inner: S) -> Self::Service {
        let attempt = self.attempt.layer(inner);
        let breaker = self.breaker.layer(attempt);
        let retry = self.retry.layer(breaker);
        let deadline = self.deadline.layer(retry);
        self.bulkhead.layer(deadline)
    }
}
