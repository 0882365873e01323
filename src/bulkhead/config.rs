//! A bulkhead's settings checks and its file form (feature `serde`).

#[cfg(feature = "serde")]
use std::time::Duration;

#[cfg(feature = "serde")]
use super::Mode;
use super::builder::Builder;
use crate::config::{ConfigError, Longest, check_duration};

pub(crate) const MAX_CONCURRENT: u32 = 100_000;
pub(crate) const MAX_CONCURRENT_TEXT: &str = "1..=100000";

impl Builder {
    /// Checks every setting; the error names the field and its allowed range.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_max_concurrent(self.max_concurrent)?;
        check_duration("max_wait", self.max_wait, true, Longest::Day)?;
        if self.max_queued > MAX_CONCURRENT {
            return Err(ConfigError::new(
                "max_queued",
                self.max_queued,
                "0..=100000",
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_max_concurrent(calls: u32) -> Result<(), ConfigError> {
    if (1..=MAX_CONCURRENT).contains(&calls) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "max_concurrent",
            calls,
            MAX_CONCURRENT_TEXT,
        ))
    }
}

/// A bulkhead's settings as a configuration file gives them (feature `serde`): each
/// field left out keeps the value of the builder the file is applied to (the defaults
/// of [`BulkheadLayer::builder`](super::BulkheadLayer::builder) with [`Builder::from_config`]). Unknown fields are
/// errors.
///
/// ```
/// use seawall::bulkhead::{Builder, BulkheadConfig};
/// let config: BulkheadConfig = toml::from_str(r#"
///     name = "db"
///     max_concurrent = 10
///     max_wait = "50ms"
///     mode = "backpressure"
/// "#).unwrap();
/// let layer = Builder::from_config(&config).build()?;
/// assert_eq!(layer.handle().max_concurrent(), 10);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BulkheadConfig {
    /// Name in events and metrics.
    pub name: Option<String>,
    /// Calls allowed at once.
    pub max_concurrent: Option<u32>,
    /// How long a caller may wait for a permit (0: fail fast rejects at once,
    /// backpressure waits without limit).
    #[serde(with = "crate::config::human::option")]
    pub max_wait: Option<Duration>,
    /// Callers allowed to wait at once.
    pub max_queued: Option<u32>,
    /// Fail fast or backpressure.
    pub mode: Option<Mode>,
}

#[cfg(feature = "serde")]
impl Builder {
    /// A builder with the defaults of [`BulkheadLayer::builder`](super::BulkheadLayer::builder) and the settings of
    /// `config`; `build()` validates them.
    ///
    /// ```
    /// use seawall::bulkhead::{Builder, BulkheadConfig};
    /// let layer = Builder::from_config(&BulkheadConfig::default()).build()?;
    /// assert_eq!(layer.handle().max_concurrent(), 1000);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: &BulkheadConfig) -> Self {
        Builder::new().with_config(config)
    }

    /// Applies the settings `config` gives; those it leaves out keep this builder's
    /// values.
    ///
    /// ```
    /// use seawall::bulkhead::{BulkheadConfig, BulkheadLayer};
    /// let config: BulkheadConfig = toml::from_str("max_queued = 5").unwrap();
    /// let layer = BulkheadLayer::builder().max_concurrent(4).with_config(&config).build()?;
    /// assert_eq!(layer.handle().max_concurrent(), 4);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(mut self, config: &BulkheadConfig) -> Self {
        use crate::config::keep_unless_set as set;
        set(&mut self.name, &config.name);
        set(&mut self.max_concurrent, &config.max_concurrent);
        set(&mut self.max_wait, &config.max_wait);
        set(&mut self.max_queued, &config.max_queued);
        set(&mut self.mode, &config.mode);
        self
    }
}
