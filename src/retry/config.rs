//! Retry settings as data, for configuration files (feature `serde`).

use std::time::Duration;

use super::builder::Builder;
use super::jitter::Jitter;
use crate::config::Ratio;

/// A retry layer's settings as a configuration file gives them: each field left out
/// keeps the value of the builder the file is applied to (the defaults of
/// [`RetryLayer::builder`], or the standard pipeline's inside a
/// [`PipelineConfig`](crate::pipeline::PipelineConfig)). Unknown fields are errors.
///
/// `initial_backoff`, `multiplier` and `max_backoff` describe an exponential backoff:
/// setting any of them makes the backoff exponential, with the parts left out taken
/// from the builder's exponential backoff (or the defaults, if it had another shape).
/// A `budget` table replaces the whole budget and needs all of its fields.
///
/// [`RetryLayer::builder`]: super::RetryLayer::builder
///
/// ```
/// use seawall::retry::{RetryConfig, RetryLayer};
///
/// let config: RetryConfig = toml::from_str(r#"
///     name = "payments"
///     max_attempts = 4
///     initial_backoff = "50ms"
///     max_backoff = "2s"
///     jitter = "decorrelated_v2"
///     budget = { window = { ttl = "10s", min_per_sec = 10, percent = "20%" } }
/// "#).unwrap();
/// let layer = RetryLayer::builder().with_config(&config).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Name in events and metrics.
    pub name: Option<String>,
    /// Attempts in all, the first included.
    pub max_attempts: Option<u32>,
    /// The first backoff.
    #[serde(with = "crate::config::human::option")]
    pub initial_backoff: Option<Duration>,
    /// Growth per retry.
    pub multiplier: Option<f64>,
    /// The longest backoff.
    #[serde(with = "crate::config::human::option")]
    pub max_backoff: Option<Duration>,
    /// How delays are spread.
    pub jitter: Option<Jitter>,
    /// A limit on the whole call, attempts and sleeps.
    #[serde(with = "crate::config::human::option")]
    pub max_elapsed: Option<Duration>,
    /// The longest server hint honoured.
    #[serde(with = "crate::config::human::option")]
    pub max_hint: Option<Duration>,
    /// What keeps retries from adding load.
    pub budget: Option<BudgetConfig>,
    /// Seed for the jitter.
    pub seed: Option<u64>,
}

/// The budget of a [`RetryConfig`].
///
/// ```
/// use seawall::retry::{BudgetConfig, RetryConfig};
///
/// let config: RetryConfig = toml::from_str(r#"budget = "none""#).unwrap();
/// assert_eq!(config.budget, Some(BudgetConfig::None));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum BudgetConfig {
    /// Finagle-style: retries up to `percent` of the requests of the last `ttl`, plus
    /// `min_per_sec`.
    Window {
        /// How far back requests count.
        #[serde(with = "crate::config::human::serde")]
        ttl: Duration,
        /// Retries always allowed per second.
        min_per_sec: u32,
        /// Retries allowed as a share of requests, `"20%"`.
        percent: Ratio,
    },
    /// gRPC-style throttling.
    Throttle {
        /// The bucket's size.
        max_tokens: u32,
        /// Tokens a success adds back.
        token_ratio: f64,
    },
    /// No budget.
    None,
}

impl<C, H, R> Builder<C, H, R> {
    /// Applies the settings `config` gives; those it leaves out keep this builder's
    /// values; `build()` validates them.
    ///
    /// ```
    /// use seawall::retry::{RetryConfig, RetryLayer};
    /// let config: RetryConfig = toml::from_str("max_attempts = 5").unwrap();
    /// let layer = RetryLayer::builder().no_budget().with_config(&config).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(self, config: &RetryConfig) -> Self {
        let mut builder = self;
        if let Some(name) = &config.name {
            builder = builder.name(name.clone());
        }
        if let Some(attempts) = config.max_attempts {
            builder = builder.max_attempts(attempts);
        }
        if config.initial_backoff.is_some()
            || config.multiplier.is_some()
            || config.max_backoff.is_some()
        {
            let (initial, multiplier, max) = builder.exponential_parts();
            builder = builder.exponential(
                config.initial_backoff.unwrap_or(initial),
                config.multiplier.unwrap_or(multiplier),
                config.max_backoff.unwrap_or(max),
            );
        }
        if let Some(jitter) = config.jitter {
            builder = builder.jitter(jitter);
        }
        if let Some(limit) = config.max_elapsed {
            builder = builder.max_elapsed(limit);
        }
        if let Some(limit) = config.max_hint {
            builder = builder.max_hint(limit);
        }
        if let Some(seed) = config.seed {
            builder = builder.seed(seed);
        }
        match config.budget {
            Some(BudgetConfig::Window {
                ttl,
                min_per_sec,
                percent,
            }) => builder.budget(ttl, min_per_sec, percent),
            Some(BudgetConfig::Throttle {
                max_tokens,
                token_ratio,
            }) => builder.throttle(max_tokens, token_ratio),
            Some(BudgetConfig::None) => builder.no_budget(),
            None => builder,
        }
    }
}
