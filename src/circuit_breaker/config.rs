//! A breaker's settings as plain data: what the builder fills in and a handle reports
//! and reloads, and the part of them a configuration file sets (feature `serde`).

use std::time::Duration;

use super::evidence::{Evidence, WINDOW_MINIMUM};
use super::settings::{OpenDuration, Settings};
use super::window::Shape;
use crate::config::Ratio;
use crate::config::{ConfigError, Longest, check_duration};

const MAX_DURATION: Duration = Longest::Week.duration();

/// All settings of a circuit breaker, as the builder holds them and the handle reports
/// and reloads them; see [`Builder`](super::Builder) for what each means and its default.
///
/// With the `serde` feature it serializes (durations as `"250ms"`); a file is read
/// into [`CircuitBreakerOverrides`], which sets only the fields the file names, so the
/// written settings read back unchanged.
///
/// ```
/// use seawall::circuit_breaker::{Builder, CircuitBreakerConfig, WindowConfig};
/// use std::time::Duration;
///
/// let mut config = CircuitBreakerConfig::default();
/// config.window = WindowConfig::Count(20);
/// config.minimum_calls = Some(10);
/// config.open_duration = Duration::from_secs(5);
/// let layer = Builder::from_config(config).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CircuitBreakerConfig {
    /// Name used in events and metrics.
    pub name: String,
    /// How a closed breaker judges health.
    pub window: WindowConfig,
    /// Share of failed calls that opens the breaker, in `(0%, 100%]` (in files, `"25%"`).
    pub failure_rate_threshold: Ratio,
    /// Share of slow calls that opens the breaker, in `(0%, 100%]` (in files, `"25%"`).
    pub slow_call_rate_threshold: Ratio,
    /// Calls at least this long are slow; `None` turns slow-call detection off.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::human::option"))]
    pub slow_call_duration: Option<Duration>,
    /// Calls counted before any rate is judged; `None` means 100 (or a smaller count
    /// window's size) when rates are judged as observed, and 20 for the window's rate
    /// (none for a run of failures) when they are judged with a `confidence`.
    pub minimum_calls: Option<u32>,
    /// Trip only when the calls prove, at this confidence, that a rate reached its
    /// threshold; `None` trips as soon as the observed rate reaches it.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::config::confidence::serialize")
    )]
    pub confidence: Option<Ratio>,
    /// How long the breaker stays open.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::human::serde"))]
    pub open_duration: Duration,
    /// Growth of the open duration on repeated trips; `None` means none.
    pub open_backoff: Option<OpenBackoffConfig>,
    /// How long the breaker must stay closed after a healthy close to forget one trip
    /// of its backoff; `None`: a healthy close forgets them all at once.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::human::option"))]
    pub open_backoff_decay: Option<Duration>,
    /// Spread of open durations, a fraction in `[0, 1)`.
    pub open_jitter: f64,
    /// Probe calls allowed while half-open.
    pub half_open_calls: u32,
    /// When a probe's failure opens the breaker again, count the open period from that
    /// probe's start, so that probes go out at a steady pace even when they hang until
    /// their timeout.
    pub steady_probing: bool,
    /// How long after half-opening, with every probe slot taken, a call opens the
    /// breaker again.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::human::serde"))]
    pub max_wait_in_half_open: Duration,
    /// Seed for the open-duration jitter; `None` picks a random one.
    pub seed: Option<u64>,
    /// Whether opening sets a tokio timer for the end of the open period, so that
    /// rejections read no clock. Needs the runtime's timer; see
    /// [`Builder::open_timer`](super::Builder::open_timer).
    pub open_timer: bool,
}

/// How a closed breaker judges health.
///
/// In files: `window = { count = 100 }`, `window = { time = { window = "60s", buckets = 12 } }`
/// or `window = { consecutive_failures = 5 }`.
///
/// ```
/// use seawall::circuit_breaker::WindowConfig;
/// assert_eq!(WindowConfig::default(), WindowConfig::Count(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum WindowConfig {
    /// The last N calls, exactly.
    Count(u32),
    /// The calls of the last `window`, in `buckets` buckets.
    Time {
        /// How far back the window reaches.
        #[cfg_attr(feature = "serde", serde(with = "crate::config::human::serde"))]
        window: Duration,
        /// How many buckets expire one at a time.
        buckets: u32,
    },
    /// A run of failed calls.
    ConsecutiveFailures(u32),
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig::Count(100)
    }
}

/// Growth of the open duration on repeated trips.
///
/// ```
/// use seawall::circuit_breaker::OpenBackoffConfig;
/// use std::time::Duration;
/// let backoff = OpenBackoffConfig::new(2.0, Duration::from_secs(60));
/// assert_eq!(backoff.multiplier, 2.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct OpenBackoffConfig {
    /// Factor applied per trip, in `[1, 100]`.
    pub multiplier: f64,
    /// The longest open duration.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::human::serde"))]
    pub max: Duration,
}

impl OpenBackoffConfig {
    /// Open durations grow by `multiplier` per trip, up to `max`; checked when built.
    ///
    /// ```
    /// use seawall::circuit_breaker::OpenBackoffConfig;
    /// use std::time::Duration;
    /// let backoff = OpenBackoffConfig::new(1.5, Duration::from_secs(30));
    /// assert_eq!(backoff.max, Duration::from_secs(30));
    /// ```
    pub const fn new(multiplier: f64, max: Duration) -> Self {
        OpenBackoffConfig { multiplier, max }
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            name: "circuit_breaker".to_owned(),
            window: WindowConfig::default(),
            failure_rate_threshold: Ratio::percent(50.0),
            slow_call_rate_threshold: Ratio::percent(100.0),
            slow_call_duration: None,
            minimum_calls: None,
            confidence: Some(Ratio::percent(99.99)),
            open_duration: Duration::from_secs(1),
            open_backoff: None,
            open_backoff_decay: None,
            open_jitter: 0.0,
            half_open_calls: 1,
            steady_probing: true,
            max_wait_in_half_open: Duration::from_secs(60),
            seed: None,
            open_timer: true,
        }
    }
}

/// The breaker settings a configuration file gives (feature `serde`): each field left
/// out keeps the value of the builder or configuration it is applied to, so the same
/// table means the same change on a standalone breaker and inside a
/// [pipeline](crate::pipeline). Unknown fields are errors. A `window` or `open_backoff`
/// table replaces the whole window or backoff, and needs all of its fields.
///
/// ```
/// use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};
/// use std::time::Duration;
///
/// let file: CircuitBreakerOverrides = toml::from_str(r#"
///     window = { count = 20 }
///     open_duration = "5s"
/// "#).unwrap();
/// let builder = CircuitBreakerLayer::builder().half_open_calls(3).with_config(&file);
/// assert_eq!(builder.config().open_duration, Duration::from_secs(5));
/// assert_eq!(builder.config().half_open_calls, 3, "not in the file: kept");
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CircuitBreakerOverrides {
    /// Name used in events and metrics.
    pub name: Option<String>,
    /// How a closed breaker judges health.
    pub window: Option<WindowConfig>,
    /// Share of failed calls that opens the breaker, in `(0%, 100%]`; `"25%"`.
    pub failure_rate_threshold: Option<Ratio>,
    /// Share of slow calls that opens the breaker, in `(0%, 100%]`; `"25%"`.
    pub slow_call_rate_threshold: Option<Ratio>,
    /// Calls at least this long are slow (turns slow-call detection on).
    #[serde(with = "crate::config::human::option")]
    pub slow_call_duration: Option<Duration>,
    /// Calls counted before any rate is judged.
    pub minimum_calls: Option<u32>,
    /// The confidence a trip needs, `"99.99%"`; `"off"` judges rates as observed.
    #[serde(
        deserialize_with = "crate::config::confidence::deserialize",
        serialize_with = "crate::config::confidence::serialize_override",
        skip_serializing_if = "Option::is_none"
    )]
    pub confidence: Option<Option<Ratio>>,
    /// How long the breaker stays open.
    #[serde(with = "crate::config::human::option")]
    pub open_duration: Option<Duration>,
    /// Growth of the open duration on repeated trips.
    pub open_backoff: Option<OpenBackoffConfig>,
    /// How long the breaker must stay closed to forget one trip of its backoff.
    #[serde(with = "crate::config::human::option")]
    pub open_backoff_decay: Option<Duration>,
    /// Spread of open durations, a fraction in `[0, 1)`.
    pub open_jitter: Option<f64>,
    /// Probe calls allowed while half-open.
    pub half_open_calls: Option<u32>,
    /// After a failed probe, count the next open period from the probe's start.
    pub steady_probing: Option<bool>,
    /// How long after half-opening, with every probe slot taken, a call opens the
    /// breaker again.
    #[serde(with = "crate::config::human::option")]
    pub max_wait_in_half_open: Option<Duration>,
    /// Seed for the open-duration jitter.
    pub seed: Option<u64>,
    /// Whether opening sets a tokio timer for the end of the open period.
    pub open_timer: Option<bool>,
}

#[cfg(feature = "serde")]
impl CircuitBreakerOverrides {
    /// Sets in `config` every field given here and keeps the others, e.g. to reload a
    /// running breaker from a file that names only what changes.
    ///
    /// ```
    /// use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};
    ///
    /// let handle = CircuitBreakerLayer::builder().half_open_calls(3).build()?.handle();
    /// let file: CircuitBreakerOverrides = toml::from_str(r#"failure_rate_threshold = "20%""#).unwrap();
    /// let mut config = handle.config();
    /// file.apply_to(&mut config);
    /// handle.reconfigure(&config)?;
    /// assert_eq!(handle.config().half_open_calls, 3);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn apply_to(&self, config: &mut CircuitBreakerConfig) {
        use crate::config::keep_unless_set as set;
        set(&mut config.name, &self.name);
        set(&mut config.window, &self.window);
        set(
            &mut config.failure_rate_threshold,
            &self.failure_rate_threshold,
        );
        set(
            &mut config.slow_call_rate_threshold,
            &self.slow_call_rate_threshold,
        );
        set(
            &mut config.slow_call_duration,
            &self.slow_call_duration.map(Some),
        );
        set(&mut config.minimum_calls, &self.minimum_calls.map(Some));
        set(&mut config.confidence, &self.confidence);
        set(&mut config.steady_probing, &self.steady_probing);
        set(&mut config.open_duration, &self.open_duration);
        set(&mut config.open_backoff, &self.open_backoff.map(Some));
        set(
            &mut config.open_backoff_decay,
            &self.open_backoff_decay.map(Some),
        );
        set(&mut config.open_jitter, &self.open_jitter);
        set(&mut config.half_open_calls, &self.half_open_calls);
        set(
            &mut config.max_wait_in_half_open,
            &self.max_wait_in_half_open,
        );
        set(&mut config.seed, &self.seed.map(Some));
        set(&mut config.open_timer, &self.open_timer);
    }
}

#[cfg(feature = "serde")]
impl<C> super::Builder<C> {
    /// Applies the settings a file gives; those it leaves out keep this builder's
    /// values (feature `serde`).
    ///
    /// ```
    /// use seawall::circuit_breaker::{CircuitBreakerLayer, CircuitBreakerOverrides};
    /// let file: CircuitBreakerOverrides = toml::from_str(r#"name = "db""#).unwrap();
    /// let layer = CircuitBreakerLayer::builder().with_config(&file).build()?;
    /// assert_eq!(layer.handle().name(), "db");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(mut self, file: &CircuitBreakerOverrides) -> Self {
        file.apply_to(&mut self.config);
        self
    }
}

impl CircuitBreakerConfig {
    /// Checks every setting, field names relative to the breaker.
    pub(crate) fn validate(&self) -> Result<(Settings, Shape), ConfigError> {
        let failure_rate_threshold = self.failure_rate_threshold.as_percent();
        let slow_call_rate_threshold = self.slow_call_rate_threshold.as_percent();
        percent_in_range("failure_rate_threshold", failure_rate_threshold)?;
        percent_in_range("slow_call_rate_threshold", slow_call_rate_threshold)?;
        if let Some(slow) = self.slow_call_duration {
            duration_in_range("slow_call_duration", slow)?;
        }
        duration_in_range("open_duration", self.open_duration)?;
        duration_in_range("max_wait_in_half_open", self.max_wait_in_half_open)?;
        let backoff = self.open_backoff.unwrap_or(OpenBackoffConfig {
            multiplier: 1.0,
            max: self.open_duration,
        });
        if !(1.0..=100.0).contains(&backoff.multiplier) {
            let m = backoff.multiplier;
            return Err(ConfigError::new("open_backoff.multiplier", m, "[1, 100]"));
        }
        if backoff.max < self.open_duration || backoff.max > MAX_DURATION {
            let (shown, allowed) = (format!("{:?}", backoff.max), "[open_duration, 7 days]");
            return Err(ConfigError::new("open_backoff.max", shown, allowed));
        }
        if let Some(decay) = self.open_backoff_decay {
            duration_in_range("open_backoff_decay", decay)?;
        }
        if !(0.0..1.0).contains(&self.open_jitter) {
            return Err(ConfigError::new("open_jitter", self.open_jitter, "[0, 1)"));
        }
        let evidence = match self.confidence {
            Some(c) if !(c.as_percent() > 50.0 && c.as_percent() < 100.0) => {
                return Err(ConfigError::new("confidence", c, "(50%, 100%)"));
            }
            c => c.map(|c| Evidence::new(c.as_fraction())),
        };
        if !(1..=1000).contains(&self.half_open_calls) {
            return Err(ConfigError::new(
                "half_open_calls",
                self.half_open_calls,
                "1..=1000",
            ));
        }
        let (shape, consecutive, minimum_calls) = self.validate_window()?;
        let settings = Settings {
            failure_rate_threshold,
            slow_call_rate_threshold,
            slow_call_duration: self.slow_call_duration,
            minimum_calls: u64::from(minimum_calls),
            minimum_set: self.minimum_calls.is_some(),
            evidence,
            consecutive_failures: consecutive,
            open: OpenDuration {
                base: self.open_duration,
                multiplier: backoff.multiplier,
                max: backoff.max,
                jitter: self.open_jitter,
                decay: self.open_backoff_decay,
            },
            half_open_calls: u64::from(self.half_open_calls),
            max_wait_in_half_open: self.max_wait_in_half_open,
            steady_probing: self.steady_probing,
            open_timer: self.open_timer,
        };
        Ok((settings, shape))
    }

    fn validate_window(&self) -> Result<(Shape, Option<u64>, u32), ConfigError> {
        let judged = self.confidence.is_some();
        let minimum = |default: u32| match (self.minimum_calls, judged) {
            (Some(set), _) => set,
            (None, true) => WINDOW_MINIMUM.min(default),
            (None, false) => default,
        };
        match self.window {
            WindowConfig::Count(size) => {
                if !(1..=100_000).contains(&size) {
                    return Err(ConfigError::new("window.count", size, "1..=100000"));
                }
                let minimum = minimum(size.min(100));
                if minimum == 0 || minimum > size {
                    let allowed = format!("1..={size} (the count window's size)");
                    return Err(ConfigError::new("minimum_calls", minimum, allowed));
                }
                Ok((Shape::Count(size), None, minimum))
            }
            WindowConfig::Time { window, buckets } => {
                if !(1..=1000).contains(&buckets) {
                    return Err(ConfigError::new("window.time.buckets", buckets, "1..=1000"));
                }
                let bucket_ms = window.as_millis() / u128::from(buckets);
                if bucket_ms == 0 || window > MAX_DURATION {
                    let (shown, allowed) = (format!("{window:?}"), "[1ms × buckets, 7 days]");
                    return Err(ConfigError::new("window.time.window", shown, allowed));
                }
                let minimum = minimum(100);
                if minimum == 0 {
                    return Err(ConfigError::new("minimum_calls", 0, "1.."));
                }
                let shape = Shape::Time {
                    buckets,
                    bucket_ms: bucket_ms as u64,
                };
                Ok((shape, None, minimum))
            }
            WindowConfig::ConsecutiveFailures(failures) => {
                if !(1..=1_000_000).contains(&failures) {
                    let allowed = "1..=1000000";
                    return Err(ConfigError::new(
                        "window.consecutive_failures",
                        failures,
                        allowed,
                    ));
                }
                Ok((Shape::Consecutive, Some(u64::from(failures)), 1))
            }
        }
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
    check_duration(field, value, false, Longest::Week)
}
