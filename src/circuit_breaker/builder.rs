//! Configuration of a circuit breaker, validated by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::config::{CircuitBreakerConfig, WindowConfig};
use super::engine::Engine;
use super::events::Listener;
use super::layer::CircuitBreakerLayer;
use crate::classify::ErrorsAreFailures;
use crate::config::{ConfigError, Ratio};

/// Settings for a [`CircuitBreakerLayer`]; every one has a default, given on its method.
///
/// By default the breaker judges the last 100 calls and opens once they prove, at
/// 99.99 % confidence, a failure rate of at least 50 %; it stays open 1 s, then one probe
/// decides. Slow-call detection is off until
/// [`slow_call_duration`](Self::slow_call_duration) is set.
///
/// ```
/// use seawall::{circuit_breaker::CircuitBreakerLayer, Ratio};
/// use std::time::Duration;
///
/// let layer = CircuitBreakerLayer::builder()
///     .name("payments")
///     .time_window(Duration::from_secs(30), 10)
///     .minimum_calls(20)
///     .failure_rate_threshold(Ratio::percent(25.0))
///     .slow_call_duration(Duration::from_secs(2))
///     .slow_call_rate_threshold(Ratio::percent(80.0))
///     .open_duration(Duration::from_secs(5))
///     .open_backoff(2.0, Duration::from_secs(120))
///     .open_jitter(0.1)
///     .half_open_calls(3)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder<C = ErrorsAreFailures> {
    pub(super) config: CircuitBreakerConfig,
    classifier: C,
    pub(super) listener: Option<Listener>,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder::from_config(CircuitBreakerConfig::default())
    }

    /// Starts from a whole configuration, e.g. one a handle reported; for a file, see
    /// [`with_config`](Self::with_config).
    ///
    /// ```
    /// use seawall::circuit_breaker::{Builder, CircuitBreakerConfig};
    /// let layer = Builder::from_config(CircuitBreakerConfig::default()).name("db").build()?;
    /// assert_eq!(layer.handle().name(), "db");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: CircuitBreakerConfig) -> Self {
        Builder {
            config,
            classifier: ErrorsAreFailures,
            listener: None,
        }
    }
}

impl<C> Builder<C> {
    /// Names the breaker in events and metrics. Default: `"circuit_breaker"`.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().name("payments").build().unwrap();
    /// assert_eq!(layer.handle().name(), "payments");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Judges the last `calls` calls, exactly: the window slides with every call.
    /// Allowed: `1..=100000`. This is the default, with 100.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().count_window(50).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn count_window(mut self, calls: u32) -> Self {
        self.config.window = WindowConfig::Count(calls);
        self
    }

    /// Judges the calls of the last `window`, kept in `buckets` buckets that expire one
    /// at a time. Each bucket lasts `window / buckets` rounded down to whole
    /// milliseconds, so the window in effect (shown by the handle's
    /// [`config`](super::CircuitBreakerHandle::config)) can be a little shorter: 1999 ms in
    /// 1000 buckets is 1 s. Each call reads the clock and adds up the buckets, so a few
    /// dozen buckets cost little and a thousand about half a microsecond per call (see
    /// `docs/PERFORMANCE.md`).
    /// Allowed: `buckets` in `1..=1000`, each bucket at least 1 ms.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .time_window(Duration::from_secs(60), 12)
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn time_window(mut self, window: Duration, buckets: u32) -> Self {
        self.config.window = WindowConfig::Time { window, buckets };
        self
    }

    /// Opens after `failures` failed calls in a row (a slow call counts as failed when
    /// slow-call detection is on); rates then apply to half-open probes only.
    /// Allowed: `1..=1000000`.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().consecutive_failures(5).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.config.window = WindowConfig::ConsecutiveFailures(failures);
        self
    }

    /// Opens when this share of counted calls failed. Allowed: `(0%, 100%]`.
    /// Default: 50 %.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::Ratio;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .failure_rate_threshold(Ratio::percent(10.0))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(layer.handle().config().failure_rate_threshold, Ratio::fraction(0.1));
    /// ```
    pub fn failure_rate_threshold(mut self, rate: Ratio) -> Self {
        self.config.failure_rate_threshold = rate;
        self
    }

    /// Opens when this share of counted calls was slow. Allowed: `(0%, 100%]`.
    /// Default: 100 %. Has effect once
    /// [`slow_call_duration`](Self::slow_call_duration) is set.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::Ratio;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .slow_call_rate_threshold(Ratio::fraction(0.5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(layer.handle().config().slow_call_rate_threshold, Ratio::percent(50.0));
    /// ```
    pub fn slow_call_rate_threshold(mut self, rate: Ratio) -> Self {
        self.config.slow_call_rate_threshold = rate;
        self
    }

    /// A call that takes at least this long counts as slow, whatever its outcome.
    /// Turning this on makes every call read the clock twice. Allowed: `(0s, 7 days]`.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .slow_call_duration(Duration::from_millis(500))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.config.slow_call_duration = Some(duration);
        self
    }

    /// No rate is judged before this many calls were counted; the window need not be
    /// full. Allowed: `1..=` the count window's size (any positive number for time
    /// windows). Default: with a [`confidence`](Self::confidence) (the default), 20 for
    /// the window's rate and none for a run of failures (the statistics weigh small
    /// samples); without one, 100, or the count window's size if smaller. Set, it holds
    /// back both.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().count_window(100).minimum_calls(10).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.config.minimum_calls = Some(calls);
        self
    }

    /// Trip only on statistical evidence: when the calls show, at this confidence, that
    /// the failure or slow-call rate has reached its threshold. Either of two tests
    /// convinces: a run of failures in a row that a rate below the threshold would
    /// make with a chance of at most `1 − confidence` (14 at 50 % and 99.99 %: a
    /// dependency that dies is caught within 14 calls however healthy it was before),
    /// or the window's rate, whose lower confidence bound (Wilson's score interval)
    /// reaches the threshold. A partial failure below the threshold (a 30 % brownout
    /// for a 50 % breaker) then never opens the breaker by bad luck, and retries can
    /// absorb it. A threshold of 100 % is judged as observed. `None` judges every rate
    /// as observed: the breaker opens as soon as the window's rate reaches the threshold
    /// after [`minimum_calls`](Self::minimum_calls). Allowed: `(50%, 100%)`. Default:
    /// 99.99 %.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::Ratio;
    /// let judged = CircuitBreakerLayer::builder().confidence(Some(Ratio::percent(99.9))).build()?;
    /// let as_observed = CircuitBreakerLayer::builder().confidence(None).build()?;
    /// # let _ = (judged, as_observed);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn confidence(mut self, confidence: Option<Ratio>) -> Self {
        self.config.confidence = confidence;
        self
    }

    /// Whether opening sets a timer on the current tokio runtime for the end of the open
    /// period. Default: on.
    ///
    /// With it, an open breaker rejects a call after one atomic load; without it, each
    /// rejection reads the clock (28 ns on the machine in `docs/PERFORMANCE.md`, where a
    /// timed rejection costs 9 ns in all). The timer needs the runtime's time driver
    /// (`enable_time` or `enable_all`, which `#[tokio::main]` and `#[tokio::test]` turn
    /// on): tokio panics when a timer is created on a runtime built without one, so turn
    /// this off for such runtimes. Outside any runtime no timer is set either way.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// // For a runtime built without `enable_time`:
    /// let layer = CircuitBreakerLayer::builder().open_timer(false).build().unwrap();
    /// assert!(!layer.handle().config().open_timer);
    /// ```
    pub fn open_timer(mut self, enabled: bool) -> Self {
        self.config.open_timer = enabled;
        self
    }

    /// Seeds the open-duration jitter, for reproducible tests. Default: a random seed.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().open_jitter(0.5).seed(7).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Decides which results count as failures; see [`Classify`](crate::Classify).
    /// Default: [`ErrorsAreFailures`].
    ///
    /// ```
    /// use seawall::{circuit_breaker::CircuitBreakerLayer, Outcome};
    ///
    /// // HTTP-like: 5xx responses are failures too.
    /// let layer = CircuitBreakerLayer::builder()
    ///     .classifier(|r: &Result<u16, tower::BoxError>| match r {
    ///         Ok(status) if *status >= 500 => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///         Err(_) => Outcome::Failure,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2> {
        Builder {
            config: self.config,
            classifier,
            listener: self.listener,
        }
    }

    /// The settings so far.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let builder = CircuitBreakerLayer::builder().half_open_calls(3);
    /// assert_eq!(builder.config().half_open_calls, 3);
    /// ```
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    /// Validates the settings and creates the breaker's shared state.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let err = CircuitBreakerLayer::builder().count_window(10).minimum_calls(20).build().unwrap_err();
    /// assert_eq!(err.to_string(), "circuit_breaker.minimum_calls: 20 is outside 1..=10 (the count window's size)");
    /// ```
    pub fn build(self) -> Result<CircuitBreakerLayer<C>, ConfigError> {
        let (settings, shape) = self
            .config
            .validate()
            .map_err(|e| e.within("circuit_breaker"))?;
        let seed = self.config.seed.unwrap_or_else(rand::random);
        let name = Arc::from(self.config.name.as_str());
        let listener = self.listener;
        let engine =
            Arc::new_cyclic(|me| Engine::new(name, settings, shape, seed, listener, me.clone()));
        Ok(CircuitBreakerLayer::from_parts(engine, self.classifier))
    }

    /// Like [`build`](Self::build), for a breaker that lives as long as the process: its
    /// state is never freed, and in return no call touches a reference count (two
    /// atomic read-modify-writes fewer per call; see `docs/PERFORMANCE.md`). The
    /// classifier is copied into each call instead, so keep it small.
    ///
    /// Use it for breakers built once at start-up. Do not use it for breakers built
    /// again and again (per connection, per key): each one stays allocated.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().name("payments").build_static()?;
    /// assert_eq!(layer.handle().name(), "payments");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn build_static(self) -> Result<CircuitBreakerLayer<C>, ConfigError> {
        self.build().map(CircuitBreakerLayer::leak)
    }
}
