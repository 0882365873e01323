//! The standard pipeline's settings as data, for configuration files (feature `serde`).

use std::time::Duration;

use super::builder::Builder;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::retry::{Jitter, RetryConfig};

/// Every setting of a [`StandardPipeline`](super::StandardPipeline) that a file can set;
/// missing fields keep the standard defaults, unknown fields are errors.
///
/// ```
/// use seawall::pipeline::{Builder, PipelineConfig};
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
///     failure_rate_threshold = 25.0
/// "#).unwrap();
/// let pipeline = Builder::from_config(&config).build()?;
/// assert_eq!(pipeline.circuit_breaker().config().failure_rate_threshold, 25.0);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PipelineConfig {
    /// Names every layer.
    pub name: String,
    /// Calls allowed at once (the bulkhead; no queue).
    pub max_concurrent: u32,
    /// Time for the whole call.
    #[serde(with = "crate::config::human::serde")]
    pub total_timeout: Duration,
    /// Time for each attempt.
    #[serde(with = "crate::config::human::serde")]
    pub attempt_timeout: Duration,
    /// Retry settings. Unset: the standard pipeline's (4 attempts, exponential from
    /// 2 s, decorrelated jitter). Set: they replace those, and fields missing from the
    /// table take the retry layer's own defaults (see [`RetryConfig`]).
    #[serde(default = "standard_retry")]
    pub retry: RetryConfig,
    /// Circuit breaker settings. Unset: the standard pipeline's (10 %, 100 calls, 30 s,
    /// 5 s). Set: they replace those, and fields missing from the table take the
    /// breaker's own defaults (see [`CircuitBreakerConfig`]).
    pub circuit_breaker: Option<CircuitBreakerConfig>,
}

fn standard_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 4,
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(30),
        jitter: Jitter::DecorrelatedV2,
        ..RetryConfig::default()
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            name: "standard".to_owned(),
            max_concurrent: 1000,
            total_timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            retry: standard_retry(),
            circuit_breaker: None,
        }
    }
}

impl Builder {
    /// A builder with the settings of `config`; `build()` validates them.
    ///
    /// ```
    /// use seawall::pipeline::{Builder, PipelineConfig};
    /// let pipeline = Builder::from_config(&PipelineConfig::default()).build()?;
    /// # let _ = pipeline;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: &PipelineConfig) -> Self {
        let retry = config.retry.clone();
        let mut builder = Builder::new()
            .name(config.name.clone())
            .max_concurrent(config.max_concurrent)
            .total_timeout(config.total_timeout)
            .attempt_timeout(config.attempt_timeout)
            .retry(|b| b.with_config(&retry));
        if let Some(breaker) = &config.circuit_breaker {
            builder = builder
                .circuit_breaker(|_| crate::circuit_breaker::Builder::from_config(breaker.clone()));
        }
        builder
    }
}
