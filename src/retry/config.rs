//! Retry settings as data, for configuration files (feature `serde`).

use std::time::Duration;

use super::backoff::Jitter;
use super::builder::Builder;

/// A retry layer's settings as data: exponential backoff with a jitter, limits, and the
/// budget. Missing fields keep their defaults (those of [`RetryLayer::builder`]), unknown
/// fields are errors.
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
///     budget = { window = { ttl = "10s", min_per_sec = 10, percent = 20.0 } }
/// "#).unwrap();
/// let layer = RetryLayer::builder().with_config(&config).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Name in events and metrics.
    pub name: String,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff.
    #[serde(with = "crate::config::human::serde")]
    pub initial_backoff: Duration,
    /// Growth per retry.
    pub multiplier: f64,
    /// The longest backoff.
    #[serde(with = "crate::config::human::serde")]
    pub max_backoff: Duration,
    /// How delays are spread.
    pub jitter: Jitter,
    /// A limit on the whole call, attempts and sleeps; none by default.
    #[serde(with = "crate::config::human::option")]
    pub max_elapsed: Option<Duration>,
    /// The longest server hint honoured.
    #[serde(with = "crate::config::human::serde")]
    pub max_hint: Duration,
    /// What keeps retries from adding load.
    pub budget: BudgetConfig,
    /// Seed for the jitter; random when unset.
    pub seed: Option<u64>,
}

/// The budget of a [`RetryConfig`].
///
/// ```
/// use seawall::retry::{BudgetConfig, RetryConfig};
///
/// let config: RetryConfig = toml::from_str(r#"budget = "none""#).unwrap();
/// assert_eq!(config.budget, BudgetConfig::None);
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
        /// Retries allowed as a percentage of requests.
        percent: f64,
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

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            name: "retry".to_owned(),
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(10),
            jitter: Jitter::Full,
            max_elapsed: None,
            max_hint: Duration::from_secs(10),
            budget: BudgetConfig::Window {
                ttl: Duration::from_secs(10),
                min_per_sec: 10,
                percent: 20.0,
            },
            seed: None,
        }
    }
}

impl<C, H, R> Builder<C, H, R> {
    /// Applies every setting of `config`; `build()` validates them.
    ///
    /// ```
    /// use seawall::retry::{RetryConfig, RetryLayer};
    /// let layer = RetryLayer::builder().with_config(&RetryConfig::default()).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(self, config: &RetryConfig) -> Self {
        let mut builder = self
            .name(config.name.clone())
            .max_attempts(config.max_attempts)
            .exponential(
                config.initial_backoff,
                config.multiplier,
                config.max_backoff,
            )
            .jitter(config.jitter)
            .max_hint(config.max_hint);
        if let Some(limit) = config.max_elapsed {
            builder = builder.max_elapsed(limit);
        }
        if let Some(seed) = config.seed {
            builder = builder.seed(seed);
        }
        match config.budget {
            BudgetConfig::Window {
                ttl,
                min_per_sec,
                percent,
            } => builder.budget(ttl, min_per_sec, percent),
            BudgetConfig::Throttle {
                max_tokens,
                token_ratio,
            } => builder.throttle(max_tokens, token_ratio),
            BudgetConfig::None => builder.no_budget(),
        }
    }
}
