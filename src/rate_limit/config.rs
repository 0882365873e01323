//! The rate limit's settings checks and its file form (feature `serde`).

use std::time::Duration;

use super::builder::Builder;
use crate::config::{ConfigError, Longest, check_duration};

pub(super) const MAX_BURST: u32 = 1_000_000;

impl Builder {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
            fast_clock: false,
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }
}
