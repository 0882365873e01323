//! The settings a [`Builder`](super::Builder) collects, and their validation.

use std::time::Duration;

use super::backoff::{Delays, Shape};
use super::budget::{Budget, Throttle, Window};
use super::jitter::Jitter;
use super::policy::Shared;
use crate::config::{ConfigError, Longest, check_duration};
use crate::random::Draws;
use crate::telemetry::Meter;
use std::sync::Arc;

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
}

impl Settings {
    pub(crate) fn validate(&self) -> Result<Shared, ConfigError> {
        if !(1..=100).contains(&self.max_attempts) {
            return Err(ConfigError::new(
                "max_attempts",
                self.max_attempts,
                "1..=100",
            ));
        }
        if let Some(limit) = self.max_elapsed {
            check_duration("max_elapsed", limit, false, Longest::Week)?;
        }
        check_duration("max_hint", self.max_hint, true, Longest::Week)?;
        let delays = match &self.custom {
            Some(custom) => custom.clone(),
            None => self.standard_delays()?,
        };
        Ok(Shared {
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            max_hint: self.max_hint,
            delays,
            budget: self.budget()?,
            refund_successes: self.refund_successes,
            retry_refusals: self.retry_refusals,
            backoff_includes_timeout: self.backoff_includes_timeout,
            draws: Draws::new(self.seed.unwrap_or_else(rand::random)),
            meter: Meter::new("retry", &Arc::from(self.name.as_str())),
        })
    }

    fn standard_delays(&self) -> Result<Delays, ConfigError> {
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
        Ok(Delays::Standard {
            shape: self.shape,
            max,
            jitter: self.jitter,
        })
    }

    fn budget(&self) -> Result<Budget, ConfigError> {
        match self.budget {
            BudgetKind::Off => Ok(Budget::Off),
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
                Ok(Budget::Window(Window::new(ttl, min_per_sec, percent)))
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
                Ok(Budget::Throttle(Throttle::new(max_tokens, token_ratio)))
            }
        }
    }
}

fn duration_error(field: &str, value: Duration, allowed: &str) -> ConfigError {
    ConfigError::new(field, format!("{value:?}"), allowed)
}
