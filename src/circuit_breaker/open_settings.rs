//! The builder's settings of the open period (its length, growth, decay and jitter) and
//! of the half-open probes.

use std::time::Duration;

use super::Builder;
use super::config::OpenBackoffConfig;

impl<C> Builder<C> {
    /// How long the breaker stays open before it lets probes through: with
    /// [`steady_probing`](Self::steady_probing) (the default), the pace of probes while
    /// the dependency stays down. Short is cheap (one call per period) and notices
    /// recovery sooner. Allowed: `(0s, 7 days]`. Default: 1 s.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder().open_duration(Duration::from_secs(5)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.config.open_duration = duration;
        self
    }

    /// Grows the open duration by `multiplier` on each trip that follows a half-open
    /// period (a failed probe, or one that waited too long), up to `max`; a healthy close (or a reset) starts over from the base
    /// duration. Allowed: `multiplier` in `[1, 100]`, `max` at least the open duration
    /// and at most 7 days. Default: no growth.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .open_duration(Duration::from_secs(1))
    ///     .open_backoff(2.0, Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn open_backoff(mut self, multiplier: f64, max: Duration) -> Self {
        self.config.open_backoff = Some(OpenBackoffConfig { multiplier, max });
        self
    }

    /// Makes the backoff forget slowly: a healthy close keeps the count of trips, and
    /// each `decay` the breaker then stays closed forgets one of them, so a dependency
    /// that fails again soon after recovering opens for longer than the base (the
    /// count of trips is Envoy's ejection multiplier, decaying while healthy).
    /// Allowed: `(0s, 7 days]`. Default: none (a healthy close forgets every trip).
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .open_backoff(2.0, Duration::from_secs(30))
    ///     .open_backoff_decay(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn open_backoff_decay(mut self, decay: Duration) -> Self {
        self.config.open_backoff_decay = Some(decay);
        self
    }

    /// Spreads open durations by ±`fraction` so that a fleet of clients does not probe
    /// in lockstep. Never beyond the maximum (the open duration itself without
    /// [`open_backoff`](Self::open_backoff)): the part of the spread above it is cut,
    /// so at the maximum durations spread below it. Allowed: `[0, 1)`. Default: 0.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().open_jitter(0.2).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn open_jitter(mut self, fraction: f64) -> Self {
        self.config.open_jitter = fraction;
        self
    }

    /// How many probe calls may run while half-open; further calls are rejected at
    /// once, not queued. The probes' failure and slow-call rates decide, by the same
    /// thresholds, as soon as the outcome is certain. Allowed: `1..=1000`. Default: 1.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().half_open_calls(1).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        self.config.half_open_calls = calls;
        self
    }

    /// When a probe's failure opens the breaker again, count the open period from when
    /// that probe started rather than from when it failed: probes go out at a steady
    /// pace of one per open duration even when each hangs until its attempt timeout, so
    /// recovery is noticed as soon with hanging calls as with failing ones. Other trips
    /// (from closed, or a half-open period that waited too long) open for the whole
    /// duration. Off, the open period starts when the probe fails. Default: on.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().steady_probing(false).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn steady_probing(mut self, on: bool) -> Self {
        self.config.steady_probing = on;
        self
    }

    /// The longest the breaker stays half-open with every probe slot taken (hung
    /// probes), counted from when it half-opened: after that, the next call that finds
    /// no free slot opens the breaker again, for the open duration, instead of being
    /// refused. The hung probes keep their slots until they end. Allowed:
    /// `(0s, 7 days]`. Default: 60 s.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder()
    ///     .max_wait_in_half_open(Duration::from_secs(10))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_wait_in_half_open(mut self, duration: Duration) -> Self {
        self.config.max_wait_in_half_open = duration;
        self
    }
}
