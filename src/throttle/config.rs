//! The throttle's settings checks and its file form (feature `serde`).

#[cfg(feature = "serde")]
use std::time::Duration;

use super::builder::Builder;
#[cfg(feature = "serde")]
use crate::config::Ratio;
use crate::config::{ConfigError, Longest};

impl<C> Builder<C> {
    pub(super) fn validate(&self) -> Result<u64, ConfigError> {
        if !(1.0..=100.0).contains(&self.k) {
            return Err(ConfigError::new("k", self.k, "[1, 100]"));
        }
        let p = self.max_reject_probability;
        if !(p > 0.0 && p <= 1.0) {
            return Err(ConfigError::new("max_reject_probability", p, "(0, 1]"));
        }
        if !(1..=1000).contains(&self.buckets) {
            return Err(ConfigError::new("window.buckets", self.buckets, "1..=1000"));
        }
        let bucket_ms = self.window.as_millis() / u128::from(self.buckets);
        if bucket_ms == 0 || self.window > Longest::Day.duration() {
            let shown = format!("{:?}", self.window);
            return Err(ConfigError::new(
                "window.window",
                shown,
                "[1ms × buckets, 1 day]",
            ));
        }
        Ok(bucket_ms as u64)
    }
}

/// A throttle's settings as a configuration file gives them (feature `serde`): each
/// field left out keeps the value of the builder the file is applied to (the defaults
/// of [`ThrottleLayer::builder`](super::ThrottleLayer::builder) with [`Builder::from_config`]). Unknown fields are
/// errors.
///
/// ```
/// use seawall::throttle::{Builder, ThrottleConfig};
/// let config: ThrottleConfig = toml::from_str(r#"
///     k = 1.5
///     window = "1m"
///     buckets = 6
/// "#).unwrap();
/// let layer = Builder::from_config(&config).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Name in events and metrics.
    pub name: Option<String>,
    /// How many requests per accepted one are tolerated before rejecting locally.
    pub k: Option<f64>,
    /// How far back requests and accepts count.
    #[serde(with = "crate::config::human::option")]
    pub window: Option<Duration>,
    /// Buckets of the window.
    pub buckets: Option<u32>,
    /// The highest rejection probability, `"90%"`.
    pub max_reject_probability: Option<Ratio>,
    /// Seed of the random draw.
    pub seed: Option<u64>,
}

#[cfg(feature = "serde")]
impl Builder {
    /// A builder with the defaults of [`ThrottleLayer::builder`](super::ThrottleLayer::builder) and the settings of
    /// `config`; `build()` validates them.
    ///
    /// ```
    /// use seawall::throttle::{Builder, ThrottleConfig};
    /// let layer = Builder::from_config(&ThrottleConfig::default()).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: &ThrottleConfig) -> Self {
        Builder::new().with_config(config)
    }
}

#[cfg(feature = "serde")]
impl<C> Builder<C> {
    /// Applies the settings `config` gives; those it leaves out keep this builder's
    /// values.
    ///
    /// ```
    /// use seawall::throttle::{ThrottleConfig, ThrottleLayer};
    /// let config: ThrottleConfig = toml::from_str("k = 1.5").unwrap();
    /// let layer = ThrottleLayer::builder().seed(7).with_config(&config).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(mut self, config: &ThrottleConfig) -> Self {
        use crate::config::keep_unless_set as set;
        set(&mut self.name, &config.name);
        set(&mut self.k, &config.k);
        set(&mut self.window, &config.window);
        set(&mut self.buckets, &config.buckets);
        let fraction = config.max_reject_probability.map(Ratio::as_fraction);
        set(&mut self.max_reject_probability, &fraction);
        set(&mut self.seed, &config.seed.map(Some));
        self
    }
}
