//! Configuration of a rate limiter, validated by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::gcra::Gcra;
use super::layer::RateLimitLayer;
use crate::config::{ConfigError, Longest, check_duration};

const MAX_BURST: u32 = 1_000_000;

/// Settings for a [`RateLimitLayer`]. The rate is required; the rest has defaults.
///
/// Defaults: a burst as large as the rate's permits (so `100` per second lets 100 calls
/// through at once after a quiet second, like `governor`'s quotas), and no waiting: a call
/// over the rate is rejected at once with a retry-after hint (like Polly's rate limiter
/// with a queue of 0).
///
/// ```
/// use seawall::rate_limit::RateLimitLayer;
/// use std::time::Duration;
///
/// let layer = RateLimitLayer::builder(100, Duration::from_secs(1))
///     .burst(10)
///     .max_wait(Duration::from_millis(200))
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder {
    name: String,
    permits: u32,
    per: Duration,
    burst: Option<u32>,
    max_wait: Duration,
}

impl Builder {
    pub(crate) fn new(permits: u32, per: Duration) -> Self {
        Builder {
            name: "rate_limit".to_owned(),
            permits,
            per,
            burst: None,
            max_wait: Duration::ZERO,
        }
    }

    /// Names the limiter in events. Default: `"rate_limit"`.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(5, Duration::from_secs(1)).name("geo").build().unwrap();
    /// assert_eq!(layer.handle().name(), "geo");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How many calls may pass at once after a quiet period. Allowed: `1..=1000000`.
    /// Default: the rate's permits.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(50, Duration::from_secs(1)).burst(1).build().unwrap();
    /// assert_eq!(layer.handle().burst(), 1);
    /// ```
    pub fn burst(mut self, calls: u32) -> Self {
        self.burst = Some(calls);
        self
    }

    /// How long a call may wait for its slot; zero (the default) rejects at once. A
    /// call's [deadline](crate::deadline) cuts the wait shorter. A call that would have
    /// to wait longer is rejected at once, with the wait as its retry-after hint.
    /// Allowed: `[0s, 1 day]`.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(50, Duration::from_secs(1))
    ///     .max_wait(Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Validates the settings and creates the limiter's shared state.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let err = RateLimitLayer::builder(0, Duration::from_secs(1)).build().unwrap_err();
    /// assert_eq!(err.to_string(), "rate_limit.permits: 0 is outside 1..=1000000000");
    /// ```
    pub fn build(self) -> Result<RateLimitLayer, ConfigError> {
        self.validate().map_err(|e| e.within("rate_limit"))?;
        let burst = self.burst.unwrap_or(self.permits.min(MAX_BURST));
        let gcra = Arc::new(Gcra::new(self.permits, self.per, burst));
        let name = Arc::from(self.name.as_str());
        Ok(RateLimitLayer::from_parts(gcra, self.max_wait, name))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_rate(self.permits, self.per)?;
        if let Some(burst) = self.burst
            && !(1..=MAX_BURST).contains(&burst)
        {
            return Err(ConfigError::new("burst", burst, "1..=1000000"));
        }
        check_duration("max_wait", self.max_wait, true, Longest::Day)?;
        Ok(())
    }
}

/// Checks a rate: `permits` in `1..=1e9`, `per` in `(0, 1 day]`, at least 1 ns apart.
pub(crate) fn check_rate(permits: u32, per: Duration) -> Result<(), ConfigError> {
    if !(1..=1_000_000_000).contains(&permits) {
        return Err(ConfigError::new("permits", permits, "1..=1000000000"));
    }
    if per.is_zero() || per > Longest::Day.duration() || per.as_nanos() < u128::from(permits) {
        let shown = format!("{per:?}");
        return Err(ConfigError::new("per", shown, "[permits × 1ns, 1 day]"));
    }
    Ok(())
}

/// A rate limiter's settings as data, for configuration files (feature `serde`).
///
/// ```
/// use seawall::rate_limit::{Builder, RateLimitConfig};
/// let config: RateLimitConfig = toml::from_str(r#"
///     name = "geo"
///     permits = 100
///     per = "1s"
///     burst = 10
///     max_wait = "200ms"
/// "#).unwrap();
/// let layer = Builder::from_config(&config).build()?;
/// assert_eq!(layer.handle().burst(), 10);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Name in events and metrics.
    #[serde(default = "default_name")]
    pub name: String,
    /// Calls allowed per `per`.
    pub permits: u32,
    /// The period of `permits`.
    #[serde(with = "crate::config::human::serde")]
    pub per: Duration,
    /// Calls allowed at once after a quiet period; default: `permits`.
    #[serde(default)]
    pub burst: Option<u32>,
    /// How long a call may wait for its turn (0: reject with a retry-after hint).
    #[serde(default, with = "crate::config::human::serde")]
    pub max_wait: Duration,
}

#[cfg(feature = "serde")]
fn default_name() -> String {
    "rate_limit".to_owned()
}

#[cfg(feature = "serde")]
impl Builder {
    /// A builder with the settings of `config`; `build()` validates them.
    ///
    /// ```
    /// use seawall::rate_limit::{Builder, RateLimitConfig};
    /// let config: RateLimitConfig = toml::from_str("permits = 5\nper = \"1s\"").unwrap();
    /// let layer = Builder::from_config(&config).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: &RateLimitConfig) -> Self {
        Builder {
            name: config.name.clone(),
            permits: config.permits,
            per: config.per,
            burst: config.burst,
            max_wait: config.max_wait,
        }
    }
}

impl crate::template::Template for Builder {
    type Layer = RateLimitLayer;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
