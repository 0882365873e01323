//! Retry settings as plain data: their defaults, written once, and their validation,
//! each field checked and named in the error with its allowed range; and their form in
//! configuration files (feature `serde`), in which a field left out keeps the builder's
//! value.

use std::time::Duration;

use super::backoff::{Delays, Shape};
use super::budget::{Budget, TokenThrottling, Window};
#[cfg(feature = "serde")]
use super::builder::Builder;
use super::jitter::Jitter;
#[cfg(feature = "serde")]
use crate::config::Ratio;
use crate::config::{ConfigError, Longest, check_duration};

const DAY: Duration = Longest::Day.duration();

/// The budget a builder was given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BudgetKind {
    Off,
    Window {
        ttl: Duration,
        min_per_sec: u32,
        percent: f64,
    },
    Throttle {
        max_tokens: u32,
        token_ratio: f64,
    },
}

/// The settings that do not change the layer's type.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) max_attempts: u32,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) max_hint: Duration,
    pub(crate) shape: Shape,
    pub(crate) max_delay: Duration,
    pub(crate) jitter: Jitter,
    pub(crate) custom: Option<Delays>,
    pub(crate) budget: BudgetKind,
    pub(crate) refund_successes: bool,
    pub(crate) retry_refusals: bool,
    pub(crate) backoff_includes_timeout: bool,
    pub(crate) seed: Option<u64>,
    /// A span per call and per attempt.
    pub(crate) spans: bool,
    /// gRFC A96's per-call histograms, labelled with this method and target.
    #[cfg(feature = "metrics")]
    pub(crate) grpc: Option<(String, String)>,
    /// The fleet whose budget this is (feature `redis`).
    #[cfg(feature = "redis")]
    pub(crate) fleet: Option<crate::fleet::Fleet>,
}

/// The defaults, the only place they are written; [`Builder`](super::Builder)'s docs
/// state them.
impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: "retry".to_owned(),
            max_attempts: 3,
            max_elapsed: None,
            max_hint: Duration::from_secs(10),
            shape: Shape::Exponential {
                initial: Duration::from_millis(100),
                multiplier: 2.0,
            },
            max_delay: Duration::from_secs(10),
            jitter: Jitter::Full,
            custom: None,
            budget: BudgetKind::Window {
                ttl: Duration::from_secs(10),
                min_per_sec: 10,
                percent: 20.0,
            },
            refund_successes: true,
            retry_refusals: false,
            backoff_includes_timeout: true,
            seed: None,
            spans: false,
            #[cfg(feature = "metrics")]
            grpc: None,
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }
}

impl Settings {
    /// Checks every field, in the order the builder's methods are listed; the first
    /// outside its allowed range is the error (without the `retry.` prefix).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_max_attempts(self.max_attempts)?;
        if let Some(limit) = self.max_elapsed {
            check_max_elapsed(limit)?;
        }
        check_max_hint(self.max_hint)?;
        if self.custom.is_none() {
            self.check_backoff()?;
        }
        self.check_budget()?;
        #[cfg(feature = "metrics")]
        if let Some((method, target)) = &self.grpc {
            crate::telemetry::check_grpc_labels(method, target)?;
        }
        Ok(())
    }

    /// The delays these settings describe; valid once [`validate`](Self::validate) passed.
    pub(crate) fn delays(&self) -> Delays {
        match &self.custom {
            Some(custom) => custom.clone(),
            None => Delays::Standard {
                shape: self.shape,
                max: self.max_delay,
                jitter: self.jitter,
            },
        }
    }

    /// A new budget as these settings describe it; valid once
    /// [`validate`](Self::validate) passed.
    pub(crate) fn budget(&self) -> Budget {
        match self.budget {
            BudgetKind::Off => Budget::Off,
            BudgetKind::Window {
                ttl,
                min_per_sec,
                percent,
            } => Budget::Window(Window::new(ttl, min_per_sec, percent)),
            BudgetKind::Throttle {
                max_tokens,
                token_ratio,
            } => Budget::Throttle(TokenThrottling::new(max_tokens, token_ratio)),
        }
    }

    fn check_backoff(&self) -> Result<(), ConfigError> {
        let max = self.max_delay;
        match self.shape {
            Shape::Constant(delay) => check_duration("backoff.delay", delay, true, Longest::Day)?,
            Shape::Linear { initial, step } => {
                check_duration("backoff.initial", initial, true, Longest::Day)?;
                check_duration("backoff.step", step, true, Longest::Day)?;
            }
            Shape::Exponential {
                initial,
                multiplier,
            } => {
                check_duration("backoff.initial", initial, false, Longest::Day)?;
                if !(1.0..=100.0).contains(&multiplier) {
                    return Err(ConfigError::new(
                        "backoff.multiplier",
                        multiplier,
                        "[1, 100]",
                    ));
                }
            }
        }
        if max < self.shape.initial() || max > DAY {
            return Err(duration_error("backoff.max", max, "[initial, 1 day]"));
        }
        if let Jitter::Proportional(fraction) = self.jitter
            && !(0.0..1.0).contains(&fraction)
        {
            return Err(ConfigError::new("jitter", fraction, "[0, 1)"));
        }
        Ok(())
    }

    fn check_budget(&self) -> Result<(), ConfigError> {
        match self.budget {
            BudgetKind::Off => {}
            BudgetKind::Window {
                ttl,
                min_per_sec,
                percent,
            } => {
                if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(60) {
                    return Err(duration_error("budget.ttl", ttl, "[1s, 60s]"));
                }
                if min_per_sec > 1_000_000 {
                    return Err(ConfigError::new(
                        "budget.min_per_sec",
                        min_per_sec,
                        "0..=1000000",
                    ));
                }
                if !(0.0..=1000.0).contains(&percent) {
                    return Err(ConfigError::new("budget.percent", percent, "[0, 1000]"));
                }
            }
            BudgetKind::Throttle {
                max_tokens,
                token_ratio,
            } => {
                if !(1..=1000).contains(&max_tokens) {
                    return Err(ConfigError::new(
                        "throttle.max_tokens",
                        max_tokens,
                        "1..=1000",
                    ));
                }
                if !(0.001..=1000.0).contains(&token_ratio) {
                    return Err(ConfigError::new(
                        "throttle.token_ratio",
                        token_ratio,
                        "(0, 1000]",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The exponential backoff's initial delay, multiplier and maximum: these
    /// settings', or the defaults' when they have another shape.
    #[cfg(feature = "serde")]
    pub(crate) fn exponential_parts(&self) -> (Duration, f64, Duration) {
        match self.shape {
            Shape::Exponential {
                initial,
                multiplier,
            } => (initial, multiplier, self.max_delay),
            _ => Settings::default().exponential_parts(),
        }
    }
}

/// `max_attempts`: `1..=100`.
pub(crate) fn check_max_attempts(attempts: u32) -> Result<(), ConfigError> {
    if (1..=100).contains(&attempts) {
        Ok(())
    } else {
        Err(ConfigError::new("max_attempts", attempts, "1..=100"))
    }
}

/// `max_elapsed`, when set: `(0s, 7 days]`.
pub(crate) fn check_max_elapsed(limit: Duration) -> Result<(), ConfigError> {
    check_duration("max_elapsed", limit, false, Longest::Week)
}

/// `max_hint`: `[0s, 7 days]`.
pub(crate) fn check_max_hint(limit: Duration) -> Result<(), ConfigError> {
    check_duration("max_hint", limit, true, Longest::Week)
}

fn duration_error(field: &str, value: Duration, allowed: &str) -> ConfigError {
    ConfigError::new(field, format!("{value:?}"), allowed)
}

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
#[cfg(feature = "serde")]
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
#[cfg(feature = "serde")]
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

#[cfg(feature = "serde")]
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
