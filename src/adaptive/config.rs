//! The adaptive limit's settings checks and its file form (feature `serde`).

use super::algorithm::Algorithm;
use super::builder::Builder;
use crate::config::{ConfigError, Longest, check_duration};

pub(super) const MAX_LIMIT: u32 = 100_000;

impl<C> Builder<C> {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_LIMIT).contains(&self.max) {
            return Err(ConfigError::new("max_limit", self.max, "1..=100000"));
        }
        if !(1..=self.max).contains(&self.min) {
            let allowed = format!("1..={} (max_limit)", self.max);
            return Err(ConfigError::new("min_limit", self.min, allowed));
        }
        if !(self.min..=self.max).contains(&self.initial) {
            let allowed = format!("{}..={} (min_limit..=max_limit)", self.min, self.max);
            return Err(ConfigError::new("initial_limit", self.initial, allowed));
        }
        match self.algorithm {
            Algorithm::Aimd(a) => {
                if !(0.5..1.0).contains(&a.backoff_ratio) {
                    let ratio = a.backoff_ratio;
                    return Err(ConfigError::new("aimd.backoff_ratio", ratio, "[0.5, 1)"));
                }
                check_duration("aimd.timeout", a.timeout, false, Longest::Day)?;
            }
            Algorithm::Gradient2(g) => {
                check_smoothing("gradient2.smoothing", g.smoothing)?;
                if !(1.0..=100.0).contains(&g.rtt_tolerance) {
                    let t = g.rtt_tolerance;
                    return Err(ConfigError::new("gradient2.rtt_tolerance", t, "[1, 100]"));
                }
                if !(10..=100_000).contains(&g.long_window) {
                    let w = g.long_window;
                    return Err(ConfigError::new("gradient2.long_window", w, "10..=100000"));
                }
                if g.queue_size > 1000 {
                    let q = g.queue_size;
                    return Err(ConfigError::new("gradient2.queue_size", q, "0..=1000"));
                }
            }
            Algorithm::Vegas(v) => {
                if !(1..=1000).contains(&v.probe_multiplier) {
                    let m = v.probe_multiplier;
                    return Err(ConfigError::new("vegas.probe_multiplier", m, "1..=1000"));
                }
                check_smoothing("vegas.smoothing", v.smoothing)?;
            }
        }
        Ok(())
    }
}

fn check_smoothing(field: &str, smoothing: f64) -> Result<(), ConfigError> {
    if smoothing > 0.0 && smoothing <= 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, smoothing, "(0, 1]"))
    }
}

/// An adaptive limiter's settings as a configuration file gives them (feature `serde`):
/// each field left out keeps the value of the builder the file is applied to. An
/// `algorithm` table replaces the algorithm; its own missing fields take that
/// algorithm's defaults. Unknown fields are errors.
///
/// ```
/// use seawall::adaptive::{AdaptiveConfig, Builder};
/// let config: AdaptiveConfig = toml::from_str(r#"
///     name = "db"
///     algorithm = { gradient2 = { rtt_tolerance = 2.0 } }
///     max_limit = 100
/// "#).unwrap();
/// let layer = Builder::from_config(&config).build()?;
/// assert_eq!(layer.handle().name(), "db");
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdaptiveConfig {
    /// Name in events and metrics.
    pub name: Option<String>,
    /// How the limit moves.
    pub algorithm: Option<Algorithm>,
    /// The limit at start.
    pub initial_limit: Option<u32>,
    /// The lowest limit.
    pub min_limit: Option<u32>,
    /// The highest limit.
    pub max_limit: Option<u32>,
}

#[cfg(feature = "serde")]
impl Builder {
    /// A builder with the defaults of [`AdaptiveLimitLayer::builder`](super::AdaptiveLimitLayer::builder) and the settings
    /// of `config`, [`Aimd`](super::Aimd) when it names no algorithm; `build()`
    /// validates them.
    ///
    /// ```
    /// use seawall::adaptive::{AdaptiveConfig, Builder};
    /// let layer = Builder::from_config(&AdaptiveConfig::default()).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: &AdaptiveConfig) -> Self {
        let algorithm = config
            .algorithm
            .unwrap_or(Algorithm::Aimd(super::Aimd::default()));
        Builder::new(algorithm).with_config(config)
    }
}

#[cfg(feature = "serde")]
impl<C> Builder<C> {
    /// Applies the settings `config` gives; those it leaves out keep this builder's
    /// values.
    ///
    /// ```
    /// use seawall::adaptive::{AdaptiveConfig, AdaptiveLimitLayer, Vegas};
    /// let config: AdaptiveConfig = toml::from_str("max_limit = 50").unwrap();
    /// let layer = AdaptiveLimitLayer::builder(Vegas::default())
    ///     .initial_limit(30)
    ///     .with_config(&config)
    ///     .build()?;
    /// assert_eq!(layer.handle().limit(), 30);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(mut self, config: &AdaptiveConfig) -> Self {
        use crate::config::keep_unless_set as set;
        set(&mut self.name, &config.name);
        set(&mut self.algorithm, &config.algorithm);
        set(&mut self.initial, &config.initial_limit);
        set(&mut self.min, &config.min_limit);
        set(&mut self.max, &config.max_limit);
        self
    }
}
