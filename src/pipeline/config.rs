//! The standard pipeline's settings as a file gives them (feature `serde`).

use std::time::Duration;

use super::builder::Builder;
use crate::circuit_breaker::CircuitBreakerOverrides;
use crate::retry::RetryConfig;

/// The settings of a [`StandardPipeline`](super::StandardPipeline) a file gives: each
/// field left out, here or in the `retry` and `circuit_breaker` tables, keeps the value
/// of the pipeline builder the file is applied to (the standard pipeline's with
/// [`Builder::from_config`]), never a standalone layer's default. Unknown fields are
/// errors.
///
/// ```
/// use seawall::pipeline::{Builder, PipelineConfig};
/// use std::time::Duration;
///
/// let config: PipelineConfig = toml::from_str(r#"
///     name = "payments"
///     total_timeout = "10s"
///     attempt_timeout = "2s"
///     [retry]
///     max_attempts = 3
///     initial_backoff = "100ms"
///     jitter = "full"
///     [circuit_breaker]
///     failure_rate_threshold = "25%"
/// "#).unwrap();
/// let pipeline = seawall::pipeline::StandardPipeline::builder()
///     .circuit_breaker(|b| b.open_duration(Duration::from_secs(5)))
///     .with_config(&config)
///     .build()?;
/// let breaker = pipeline.circuit_breaker().config();
/// assert_eq!(breaker.failure_rate_threshold, seawall::Ratio::percent(25.0));
/// assert_eq!(breaker.open_duration, Duration::from_secs(5), "not in the file: kept");
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PipelineConfig {
    /// Names every layer.
    pub name: Option<String>,
    /// Calls allowed at once (the bulkhead; no queue).
    pub max_concurrent: Option<u32>,
    /// Time for the whole call.
    #[serde(with = "crate::config::human::option")]
    pub total_timeout: Option<Duration>,
    /// Time for each attempt.
    #[serde(with = "crate::config::human::option")]
    pub attempt_timeout: Option<Duration>,
    /// Changes to the pipeline's retry settings.
    pub retry: RetryConfig,
    /// Changes to the pipeline's circuit breaker settings.
    pub circuit_breaker: CircuitBreakerOverrides,
}

impl Builder {
    /// A builder with the standard pipeline's settings and those of `config`;
    /// `build()` validates them.
    ///
    /// ```
    /// use seawall::pipeline::{Builder, PipelineConfig};
    /// let pipeline = Builder::from_config(&PipelineConfig::default()).build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: &PipelineConfig) -> Self {
        Builder::new().with_config(config)
    }
}

impl<C, H, R> Builder<C, H, R> {
    /// Applies the settings `config` gives; those it leaves out keep this builder's
    /// values.
    ///
    /// ```
    /// use seawall::pipeline::{PipelineConfig, StandardPipeline};
    /// let config: PipelineConfig = toml::from_str("[retry]\nmax_attempts = 2").unwrap();
    /// let pipeline = StandardPipeline::builder()
    ///     .max_concurrent(50)
    ///     .with_config(&config)
    ///     .build()?;
    /// assert_eq!(pipeline.bulkhead().max_concurrent(), 50);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(self, config: &PipelineConfig) -> Self {
        let mut builder = self
            .retry(|r| r.with_config(&config.retry))
            .circuit_breaker(|b| b.with_config(&config.circuit_breaker));
        if let Some(name) = &config.name {
            builder = builder.name(name.clone());
        }
        if let Some(calls) = config.max_concurrent {
            builder = builder.max_concurrent(calls);
        }
        if let Some(timeout) = config.total_timeout {
            builder = builder.total_timeout(timeout);
        }
        if let Some(timeout) = config.attempt_timeout {
            builder = builder.attempt_timeout(timeout);
        }
        builder
    }
}
