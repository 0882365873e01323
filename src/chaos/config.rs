//! The chaos layer's settings as plain data, their defaults and their validation.

use std::time::Duration;

use crate::config::{ConfigError, Longest, Ratio, check_duration};

/// What a [`ChaosLayer`](super::ChaosLayer) injects, and when. Defaults: nothing
/// injected, and **off** until switched on ([`Builder::enabled`](super::Builder::enabled)
/// or the handle's [`enable`](super::ChaosHandle::enable)).
///
/// ```
/// use seawall::chaos::ChaosConfig;
/// let config = ChaosConfig::default();
/// assert!(!config.enabled);
/// assert_eq!(config.latency_rate.as_percent(), 0.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ChaosConfig {
    /// Name used in events.
    pub name: String,
    /// Whether faults are injected at all (off by default).
    pub enabled: bool,
    /// Share of calls delayed by `latency` before they run.
    pub latency_rate: Ratio,
    /// The delay added to a delayed call.
    pub latency: Duration,
    /// Share of calls answered by the injected outcome instead of the service.
    pub outcome_rate: Ratio,
    /// Share of calls before which the injected behaviour runs.
    pub behaviour_rate: Ratio,
    /// Faults only inside windows of `lasting` that start every `every` (from when the
    /// layer is built): outages in bursts rather than independent coin flips.
    pub bursts: Option<(Duration, Duration)>,
    /// The most injected faults (delays and outcomes) in flight at once.
    pub max_active: u32,
    /// Seed of the draws; `None` picks a random one.
    pub seed: Option<u64>,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            name: "chaos".to_owned(),
            enabled: false,
            latency_rate: Ratio::percent(0.0),
            latency: Duration::ZERO,
            outcome_rate: Ratio::percent(0.0),
            behaviour_rate: Ratio::percent(0.0),
            bursts: None,
            max_active: u32::MAX,
            seed: None,
        }
    }
}

/// Validated settings, as the layer reads them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) latency_rate: f64,
    pub(crate) latency: Duration,
    pub(crate) outcome_rate: f64,
    pub(crate) behaviour_rate: f64,
    /// `(every, lasting)` in milliseconds.
    pub(crate) bursts: Option<(u64, u64)>,
    pub(crate) max_active: u32,
}

fn rate(field: &str, r: Ratio) -> Result<f64, ConfigError> {
    let f = r.as_fraction();
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err(ConfigError::new(field, r, "[0%, 100%]"))
    }
}

impl ChaosConfig {
    /// Checks every field; the error names the field and its allowed range.
    pub(crate) fn validate(&self) -> Result<Settings, ConfigError> {
        let latency_rate = rate("latency_rate", self.latency_rate)?;
        if latency_rate > 0.0 {
            check_duration("latency", self.latency, false, Longest::Day)?;
        }
        let outcome_rate = rate("outcome_rate", self.outcome_rate)?;
        let behaviour_rate = rate("behaviour_rate", self.behaviour_rate)?;
        let bursts = match self.bursts {
            None => None,
            Some((every, lasting)) => {
                check_duration("bursts.every", every, false, Longest::Day)?;
                if lasting.is_zero() || lasting > every {
                    let shown = format!("{lasting:?}");
                    return Err(ConfigError::new("bursts.lasting", shown, "(0s, every]"));
                }
                let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
                Some((ms(every), ms(lasting)))
            }
        };
        if self.max_active == 0 {
            return Err(ConfigError::new("max_active", 0, "1..=4294967295"));
        }
        Ok(Settings {
            latency_rate,
            latency: self.latency,
            outcome_rate,
            behaviour_rate,
            bursts,
            max_active: self.max_active,
        })
    }
}
