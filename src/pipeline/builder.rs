//! Settings of the standard pipeline, with the cross-checks between its layers.

use std::time::Duration;

use super::StandardPipeline;
use crate::bulkhead::{self, BulkheadLayer};
use crate::circuit_breaker::{self, CircuitBreakerLayer, WindowConfig};
use crate::classify::ErrorsAreFailures;
use crate::config::ConfigError;
use crate::deadline::DeadlineLayer;
use crate::retry::{self, CloneRequest, RejectionHint, RetryLayer};
use crate::timeout::AttemptTimeoutLayer;

/// Configures a [`StandardPipeline`]; starts from each layer's own defaults with Microsoft's
/// standard handler limits and timeouts (see [the module](super)).
///
/// ```
/// use seawall::{pipeline::StandardPipeline, Ratio};
/// use std::time::Duration;
///
/// let pipeline = StandardPipeline::builder()
///     .name("inventory")
///     .max_concurrent(200)
///     .total_timeout(Duration::from_secs(5))
///     .attempt_timeout(Duration::from_secs(1))
///     .retry(|r| r.max_attempts(2))
///     .circuit_breaker(|b| b.failure_rate_threshold(Ratio::percent(25.0)))
///     .build()?;
/// # let _ = pipeline;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get the pipeline"]
pub struct Builder<C = ErrorsAreFailures, H = RejectionHint, R = CloneRequest> {
    name: String,
    bulkhead: bulkhead::Builder,
    total_timeout: Duration,
    retry: retry::Builder<C, H, R>,
    breaker: circuit_breaker::Builder<C>,
    attempt_timeout: Duration,
    /// The fleet the breaker is shared with (feature `redis`).
    #[cfg(feature = "redis")]
    fleet: Option<crate::fleet::Fleet>,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            name: "standard".to_owned(),
            bulkhead: BulkheadLayer::builder()
                .max_concurrent(1000)
                .max_wait(Duration::ZERO),
            total_timeout: Duration::from_secs(30),
            retry: RetryLayer::builder(),
            breaker: CircuitBreakerLayer::builder(),
            attempt_timeout: Duration::from_secs(10),
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }
}

#[cfg(feature = "http")]
impl super::StandardPipeline {
    /// The standard pipeline for HTTP clients: 408, 429, 5xx and transport errors are
    /// failures; `Retry-After` and `grpc-retry-pushback-ms` set the next delay; requests
    /// are replayed when their bodies are `Clone` and at most 64 KiB (feature `http`).
    ///
    /// ```
    /// use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::http().name("api").build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn http() -> Builder<
        crate::classify::http::TransientStatus,
        crate::retry::http::HttpHint,
        crate::retry::http::HttpReplay,
    > {
        Builder::new()
            .classifier(crate::classify::http::TransientStatus)
            .hints(crate::retry::http::HttpHint)
            .replay(crate::retry::http::HttpReplay::max_body(64 * 1024))
    }
}

impl<C, H, R> Builder<C, H, R> {
    /// Names every layer of the pipeline (in events, metrics and errors).
    /// Default: `"standard"`.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().name("payments").build()?;
    /// assert_eq!(pipeline.bulkhead().name(), "payments");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Calls allowed at once; further calls are refused, not queued. Default: 1000.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().max_concurrent(50).build()?;
    /// assert_eq!(pipeline.bulkhead().max_concurrent(), 50);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_concurrent(self, calls: u32) -> Self {
        self.bulkhead(|b| b.max_concurrent(calls))
    }

    /// Changes the bulkhead's settings.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// # use std::time::Duration;
    /// let pipeline = StandardPipeline::builder()
    ///     .bulkhead(|b| b.max_concurrent(10).max_wait(Duration::from_millis(50)))
    ///     .build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn bulkhead(mut self, change: impl FnOnce(bulkhead::Builder) -> bulkhead::Builder) -> Self {
        self.bulkhead = change(self.bulkhead);
        self
    }

    /// Time for the whole call, retries included. Default: 30 s.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// # use std::time::Duration;
    /// let pipeline = StandardPipeline::builder().total_timeout(Duration::from_secs(60)).build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Time for each attempt; at most the total timeout. Default: 10 s.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// # use std::time::Duration;
    /// let err = StandardPipeline::builder().attempt_timeout(Duration::from_secs(31)).build().unwrap_err();
    /// assert_eq!(err.to_string(), "standard.attempt_timeout: 31s is outside (0s, total_timeout = 30s]");
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Changes the retry settings.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().retry(|r| r.max_attempts(2).no_budget()).build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn retry(
        mut self,
        change: impl FnOnce(retry::Builder<C, H, R>) -> retry::Builder<C, H, R>,
    ) -> Self {
        self.retry = change(self.retry);
        self
    }

    /// Changes the circuit breaker's settings.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder()
    ///     .circuit_breaker(|b| b.count_window(50).minimum_calls(20))
    ///     .build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn circuit_breaker(
        mut self,
        change: impl FnOnce(circuit_breaker::Builder<C>) -> circuit_breaker::Builder<C>,
    ) -> Self {
        self.breaker = change(self.breaker);
        self
    }

    /// Shares the pipeline's circuit breaker and retry budget with every instance of
    /// `fleet` that builds a pipeline of the same name (feature `redis`): one breaker for
    /// the fleet ([`CircuitBreakerLayer::fleet`]) and the budget's reserve divided among
    /// the live instances ([`retry::Builder::fleet`]).
    ///
    /// ```no_run
    /// use seawall::fleet::Fleet;
    /// use seawall::pipeline::StandardPipeline;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("shop").start()?;
    /// let pipeline = StandardPipeline::builder().name("payments").fleet(&fleet).build()?;
    /// # let _ = pipeline;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub fn fleet(mut self, fleet: &crate::fleet::Fleet) -> Self {
        self.retry = self.retry.fleet(fleet);
        self.fleet = Some(fleet.clone());
        self
    }

    /// Decides what counts as a failure, for the retry and the breaker alike.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// use seawall::Outcome;
    /// let pipeline = StandardPipeline::builder()
    ///     .classifier(|r: &Result<u16, tower::BoxError>| match r {
    ///         Ok(status) if *status >= 500 => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///         Err(_) => Outcome::Failure,
    ///     })
    ///     .build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn classifier<C2: Clone>(self, classifier: C2) -> Builder<C2, H, R> {
        Builder {
            name: self.name,
            bulkhead: self.bulkhead,
            total_timeout: self.total_timeout,
            retry: self.retry.classifier(classifier.clone()),
            breaker: self.breaker.classifier(classifier),
            attempt_timeout: self.attempt_timeout,
            #[cfg(feature = "redis")]
            fleet: self.fleet,
        }
    }

    /// Where the retry reads server hints; see [`RetryHint`](crate::retry::RetryHint).
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// use seawall::retry::NoHint;
    /// let pipeline = StandardPipeline::builder().hints(NoHint).build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn hints<H2>(self, hints: H2) -> Builder<C, H2, R> {
        Builder {
            name: self.name,
            bulkhead: self.bulkhead,
            total_timeout: self.total_timeout,
            retry: self.retry.hints(hints),
            breaker: self.breaker,
            attempt_timeout: self.attempt_timeout,
            #[cfg(feature = "redis")]
            fleet: self.fleet,
        }
    }

    /// How requests are copied for retries; see [`Replay`](crate::retry::Replay).
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// use seawall::retry::CloneRequest;
    /// let pipeline = StandardPipeline::builder().replay(CloneRequest).build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn replay<R2>(self, replay: R2) -> Builder<C, H, R2> {
        Builder {
            name: self.name,
            bulkhead: self.bulkhead,
            total_timeout: self.total_timeout,
            retry: self.retry.replay(replay),
            breaker: self.breaker,
            attempt_timeout: self.attempt_timeout,
            #[cfg(feature = "redis")]
            fleet: self.fleet,
        }
    }

    /// Checks every layer and the rules between them, and creates the shared state.
    ///
    /// # Errors
    ///
    /// The first invalid setting, its path starting with the pipeline's name, e.g.
    /// `payments.circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]`.
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// use seawall::Ratio;
    /// let err = StandardPipeline::builder()
    ///     .name("payments")
    ///     .circuit_breaker(|b| b.failure_rate_threshold(Ratio::percent(140.0)))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "payments.circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]");
    /// ```
    pub fn build(self) -> Result<StandardPipeline<C, H, R>, ConfigError> {
        let name = self.name.clone();
        self.build_unnamed(false).map_err(|e| e.within(&name))
    }

    /// Like [`build`](Self::build), for a pipeline that lives as long as the process:
    /// its bulkhead and circuit breaker are built with their `build_static`, so a call
    /// touches two reference counts fewer (see `docs/PERFORMANCE.md`). Do not use it for
    /// pipelines built again and again (per connection, per tenant): each one stays
    /// allocated.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    ///
    /// ```
    /// # use seawall::pipeline::StandardPipeline;
    /// let pipeline = StandardPipeline::builder().name("payments").build_static()?;
    /// assert_eq!(pipeline.circuit_breaker().name(), "payments");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn build_static(self) -> Result<StandardPipeline<C, H, R>, ConfigError> {
        let name = self.name.clone();
        self.build_unnamed(true).map_err(|e| e.within(&name))
    }

    fn build_unnamed(self, forever: bool) -> Result<StandardPipeline<C, H, R>, ConfigError> {
        let name = self.name.as_str();
        let attempt = AttemptTimeoutLayer::new(self.attempt_timeout)?.name(name);
        let deadline = DeadlineLayer::new(self.total_timeout)?.name(name);
        if self.attempt_timeout > self.total_timeout {
            let allowed = format!("(0s, total_timeout = {:?}]", self.total_timeout);
            let shown = format!("{:?}", self.attempt_timeout);
            return Err(ConfigError::new("attempt_timeout", shown, allowed));
        }
        let mut window_ceiling = None;
        if let WindowConfig::Time { window, .. } = self.breaker.config().window {
            window_ceiling = Some(window / 2);
            let least = self.attempt_timeout.saturating_mul(2);
            if window < least {
                let allowed = format!("[2 × attempt_timeout = {least:?}, 7 days]");
                let err = ConfigError::new("window.time.window", format!("{window:?}"), allowed);
                return Err(err.within("circuit_breaker"));
            }
        }
        let bulkhead = self.bulkhead.name(name).build()?;
        let retry = self.retry.name(name).build()?;
        let breaker = self.breaker.name(name).build()?;
        #[cfg(feature = "redis")]
        let breaker = match &self.fleet {
            Some(fleet) => breaker.fleet(fleet),
            None => breaker,
        };
        // Leaked only once every part is built: a failed build leaks nothing.
        let (bulkhead, breaker) = if forever {
            (bulkhead.leak(), breaker.leak())
        } else {
            (bulkhead, breaker)
        };
        Ok(StandardPipeline {
            bulkhead,
            deadline,
            retry,
            breaker,
            attempt,
            timeouts: super::Timeouts {
                name: name.into(),
                window_ceiling,
                lock: Default::default(),
            },
        })
    }
}

/// A whole [standard pipeline](crate::pipeline) per key (e.g. per authority), each with
/// its own bulkhead, retry budget and breaker.
impl<C: Clone, H: Clone, R: Clone> crate::template::Template for Builder<C, H, R> {
    type Layer = StandardPipeline<C, H, R>;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
