//! The hedging layer's settings as a configuration file gives them (feature `serde`).

use std::time::Duration;

use super::Builder;
use super::state::Delay;
use crate::config::Ratio;

/// A hedging layer's settings from a file (feature `serde`): each field left out keeps
/// the builder's value; unknown fields are errors. `delay` sets a fixed delay;
/// `percentile` (with `percentile_at_least` and `percentile_until`) a percentile one.
/// The classifier and the policy are code.
///
/// ```
/// use seawall::hedge::{HedgeLayer, HedgeOverrides};
/// let file: HedgeOverrides = toml::from_str(r#"
///     percentile = 0.95
///     percentile_at_least = 100
///     percentile_until = "150ms"
///     max_attempts = 3
///     max_extra_load = "5%"
/// "#).unwrap();
/// let layer = HedgeLayer::builder().with_config(&file).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HedgeOverrides {
    /// Name in metrics.
    pub name: Option<String>,
    /// A fixed delay before each next attempt.
    #[serde(with = "crate::config::human::option")]
    pub delay: Option<Duration>,
    /// The latency quantile used as the delay, in `(0, 1)`.
    pub percentile: Option<f64>,
    /// Samples needed before the percentile is used.
    pub percentile_at_least: Option<u64>,
    /// The delay until then.
    #[serde(with = "crate::config::human::option")]
    pub percentile_until: Option<Duration>,
    /// The most attempts of one call, `2..=5`.
    pub max_attempts: Option<u32>,
    /// The extra load hedges may add, `"5%"`.
    pub max_extra_load: Option<Ratio>,
    /// Attempts the budget saves up.
    pub reserve: Option<u32>,
    /// The most hedges in flight at once.
    pub max_concurrent_hedges: Option<u32>,
}

impl<C, P> Builder<C, P> {
    /// Applies the settings a file gives; those it leaves out keep this builder's values
    /// (feature `serde`).
    ///
    /// ```
    /// use seawall::hedge::{HedgeLayer, HedgeOverrides};
    /// let file: HedgeOverrides = toml::from_str(r#"delay = "40ms""#).unwrap();
    /// let layer = HedgeLayer::builder().with_config(&file).build()?;
    /// assert_eq!(layer.current_delay(), std::time::Duration::from_millis(40));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn with_config(mut self, file: &HedgeOverrides) -> Self {
        use crate::config::keep_unless_set as set;
        set(&mut self.plain.name, &file.name);
        if let Some(delay) = file.delay {
            self.plain.delay = Delay::Fixed(delay);
        }
        if file.percentile.is_some()
            || file.percentile_at_least.is_some()
            || file.percentile_until.is_some()
        {
            let (q, at_least, until) = match self.plain.delay {
                Delay::Percentile { q, at_least, until } => (q, at_least, until),
                Delay::Fixed(d) => (0.95, 100, d),
            };
            self.plain.delay = Delay::Percentile {
                q: file.percentile.unwrap_or(q),
                at_least: file.percentile_at_least.unwrap_or(at_least),
                until: file.percentile_until.unwrap_or(until),
            };
        }
        set(&mut self.plain.max_attempts, &file.max_attempts);
        set(&mut self.plain.extra, &file.max_extra_load);
        set(&mut self.plain.reserve, &file.reserve);
        set(&mut self.plain.max_running, &file.max_concurrent_hedges);
        self
    }
}
