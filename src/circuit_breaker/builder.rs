//! Configuration of a circuit breaker, validated by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::layer::CircuitBreakerLayer;
use super::state::{Engine, OpenDuration, Settings};
use super::window::{ConsecutiveWindow, CountWindow, TimeWindow, Window};
use crate::classify::ErrorsAreFailures;
use crate::config::ConfigError;

const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_DURATION_TEXT: &str = "(0s, 7 days]";

/// How a closed breaker judges health.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Judge {
    Count(u32),
    Time { window: Duration, buckets: u32 },
    Consecutive(u32),
}

/// Settings for a [`CircuitBreakerLayer`]; every one has a default.
///
/// Defaults follow resilience4j's: a count window of the last 100 calls, open at a 50 %
/// failure rate once at least 100 calls (or the whole window, if smaller) were seen,
/// stay open 60 s, then let 10 probe calls decide. seawall adds a 60 s limit on
/// half-open so a hung probe cannot stall the breaker. Slow-call detection is off until
/// [`slow_call_duration`](Self::slow_call_duration) is set.
///
/// ```
/// use seawall::circuit_breaker::CircuitBreakerLayer;
/// use std::time::Duration;
///
/// let layer = CircuitBreakerLayer::builder()
///     .name("payments")
///     .time_window(Duration::from_secs(30), 10)
///     .minimum_calls(20)
///     .failure_rate_threshold(25.0)
///     .slow_call_duration(Duration::from_secs(2))
///     .slow_call_rate_threshold(80.0)
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
    name: String,
    judge: Judge,
    failure_rate_threshold: f64,
    slow_call_rate_threshold: f64,
    slow_call_duration: Option<Duration>,
    minimum_calls: Option<u32>,
    open_duration: Duration,
    open_multiplier: f64,
    open_max: Option<Duration>,
    open_jitter: f64,
    half_open_calls: u32,
    max_wait_in_half_open: Duration,
    seed: Option<u64>,
    classifier: C,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            name: "circuit_breaker".to_owned(),
            judge: Judge::Count(100),
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: None,
            minimum_calls: None,
            open_duration: Duration::from_secs(60),
            open_multiplier: 1.0,
            open_max: None,
            open_jitter: 0.0,
            half_open_calls: 10,
            max_wait_in_half_open: Duration::from_secs(60),
            seed: None,
            classifier: ErrorsAreFailures,
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
        self.name = name.into();
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
        self.judge = Judge::Count(calls);
        self
    }

    /// Judges the calls of the last `window`, kept in `buckets` buckets that expire one
    /// at a time. Allowed: `buckets` in `1..=1000`, each bucket at least 1 ms long.
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
        self.judge = Judge::Time { window, buckets };
        self
    }

    /// Opens after `failures` failed calls in a row (a slow call counts as failed when
    /// slow-call detection is on); rates and minimum calls then apply to half-open
    /// probes only. Allowed: `1..=1000000`.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().consecutive_failures(5).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.judge = Judge::Consecutive(failures);
        self
    }

    /// Opens when this percentage of counted calls failed. Allowed: `(0, 100]`.
    /// Default: 50.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().failure_rate_threshold(10.0).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.failure_rate_threshold = percent;
        self
    }

    /// Opens when this percentage of counted calls was slow. Allowed: `(0, 100]`.
    /// Default: 100. Has effect once [`slow_call_duration`](Self::slow_call_duration) is set.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().slow_call_rate_threshold(50.0).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn slow_call_rate_threshold(mut self, percent: f64) -> Self {
        self.slow_call_rate_threshold = percent;
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
        self.slow_call_duration = Some(duration);
        self
    }

    /// No rate is judged before this many calls were counted; the window need not be
    /// full. Allowed: `1..=` the count window's size (any positive number for time
    /// windows). Default: 100, or the count window's size if smaller.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().count_window(100).minimum_calls(10).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = Some(calls);
        self
    }

    /// How long the breaker stays open before it lets probes through.
    /// Allowed: `(0s, 7 days]`. Default: 60 s.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// # use std::time::Duration;
    /// let layer = CircuitBreakerLayer::builder().open_duration(Duration::from_secs(5)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn open_duration(mut self, duration: Duration) -> Self {
        self.open_duration = duration;
        self
    }

    /// Grows the open duration by `multiplier` on each trip that follows a failed
    /// half-open, up to `max`; a healthy close (or a reset) starts over from the base
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
        self.open_multiplier = multiplier;
        self.open_max = Some(max);
        self
    }

    /// Spreads open durations by ±`fraction` so that a fleet of clients does not probe
    /// in lockstep; never beyond the backoff's maximum. Allowed: `[0, 1)`. Default: 0.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().open_jitter(0.2).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn open_jitter(mut self, fraction: f64) -> Self {
        self.open_jitter = fraction;
        self
    }

    /// How many probe calls may run while half-open; further calls are rejected at
    /// once, not queued. The probes' failure and slow-call rates decide, by the same
    /// thresholds, as soon as the outcome is certain. Allowed: `1..=1000`. Default: 10.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().half_open_calls(1).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        self.half_open_calls = calls;
        self
    }

    /// If all probe slots stay taken this long (hung probes), the breaker opens again.
    /// Allowed: `(0s, 7 days]`. Default: 60 s.
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
        self.max_wait_in_half_open = duration;
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
        self.seed = Some(seed);
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
            name: self.name,
            judge: self.judge,
            failure_rate_threshold: self.failure_rate_threshold,
            slow_call_rate_threshold: self.slow_call_rate_threshold,
            slow_call_duration: self.slow_call_duration,
            minimum_calls: self.minimum_calls,
            open_duration: self.open_duration,
            open_multiplier: self.open_multiplier,
            open_max: self.open_max,
            open_jitter: self.open_jitter,
            half_open_calls: self.half_open_calls,
            max_wait_in_half_open: self.max_wait_in_half_open,
            seed: self.seed,
            classifier,
        }
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
        let (settings, window) = self.validate().map_err(|e| e.within("circuit_breaker"))?;
        let engine = Arc::new(Engine::new(settings, window));
        Ok(CircuitBreakerLayer::from_parts(engine, self.classifier))
    }

    fn validate(&self) -> Result<(Settings, Window), ConfigError> {
        percent_in_range("failure_rate_threshold", self.failure_rate_threshold)?;
        percent_in_range("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if let Some(slow) = self.slow_call_duration {
            duration_in_range("slow_call_duration", slow)?;
        }
        duration_in_range("open_duration", self.open_duration)?;
        duration_in_range("max_wait_in_half_open", self.max_wait_in_half_open)?;
        if !(1.0..=100.0).contains(&self.open_multiplier) {
            let m = self.open_multiplier;
            return Err(ConfigError::new("open_backoff.multiplier", m, "[1, 100]"));
        }
        let open_max = self.open_max.unwrap_or(self.open_duration);
        if open_max < self.open_duration || open_max > MAX_DURATION {
            let allowed = "[open_duration, 7 days]";
            return Err(ConfigError::new("open_backoff.max", format!("{open_max:?}"), allowed));
        }
        if !(0.0..1.0).contains(&self.open_jitter) {
            return Err(ConfigError::new("open_jitter", self.open_jitter, "[0, 1)"));
        }
        if !(1..=1000).contains(&self.half_open_calls) {
            return Err(ConfigError::new("half_open_calls", self.half_open_calls, "1..=1000"));
        }
        let (window, consecutive, default_minimum) = match self.judge {
            Judge::Count(size) => {
                if !(1..=100_000).contains(&size) {
                    return Err(ConfigError::new("count_window", size, "1..=100000"));
                }
                (Window::Count(CountWindow::new(size)), None, size.min(100))
            }
            Judge::Time { window, buckets } => {
                if !(1..=1000).contains(&buckets) {
                    return Err(ConfigError::new("time_window.buckets", buckets, "1..=1000"));
                }
                let bucket_ms = window.as_millis() / u128::from(buckets);
                if bucket_ms == 0 || window > MAX_DURATION {
                    let allowed = "[1ms × buckets, 7 days]";
                    let shown = format!("{window:?}");
                    return Err(ConfigError::new("time_window.window", shown, allowed));
                }
                let window = Window::Time(TimeWindow::new(buckets, bucket_ms as u64));
                (window, None, 100)
            }
            Judge::Consecutive(failures) => {
                if !(1..=1_000_000).contains(&failures) {
                    let allowed = "1..=1000000";
                    return Err(ConfigError::new("consecutive_failures", failures, allowed));
                }
                let window = Window::Consecutive(ConsecutiveWindow::new());
                (window, Some(u64::from(failures)), 1)
            }
        };
        let minimum_calls = self.minimum_calls.unwrap_or(default_minimum);
        match self.judge {
            Judge::Count(size) if minimum_calls == 0 || minimum_calls > size => {
                let allowed = format!("1..={size} (the count window's size)");
                return Err(ConfigError::new("minimum_calls", minimum_calls, allowed));
            }
            _ if minimum_calls == 0 => {
                return Err(ConfigError::new("minimum_calls", 0, "1.."));
            }
            _ => {}
        }
        let settings = Settings {
            name: Arc::from(self.name.as_str()),
            failure_rate_threshold: self.failure_rate_threshold,
            slow_call_rate_threshold: self.slow_call_rate_threshold,
            slow_call_duration: self.slow_call_duration,
            minimum_calls: u64::from(minimum_calls),
            consecutive_failures: consecutive,
            open: OpenDuration {
                base: self.open_duration,
                multiplier: self.open_multiplier,
                max: open_max,
                jitter: self.open_jitter,
            },
            half_open_calls: u64::from(self.half_open_calls),
            max_wait_in_half_open: self.max_wait_in_half_open,
            seed: self.seed.unwrap_or_else(rand::random),
        };
        Ok((settings, window))
    }
}

fn percent_in_range(field: &str, value: f64) -> Result<(), ConfigError> {
    if value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, value, "(0, 100]"))
    }
}

fn duration_in_range(field: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() || value > MAX_DURATION {
        Err(ConfigError::new(field, format!("{value:?}"), MAX_DURATION_TEXT))
    } else {
        Ok(())
    }
}
