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

/// A chaos layer's settings as a configuration file gives them (feature `serde`): each
/// field left out keeps the builder's value. Unknown fields are errors. The injected
/// outcome, behaviour and selection are code, set with their builder methods.
///
/// ```
/// use seawall::chaos::{ChaosLayer, ChaosOverrides};
/// let file: ChaosOverrides = toml::from_str(r#"
///     enabled = true
///     latency_rate = "5%"
///     latency = "300ms"
///     burst_every = "1m"
///     burst_lasting = "10s"
/// "#).unwrap();
/// let layer = ChaosLayer::builder().with_config(&file).build()?;
/// assert!(layer.handle().is_enabled());
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ChaosOverrides {
    /// Name in events.
    pub name: Option<String>,
    /// Whether injection starts switched on.
    pub enabled: Option<bool>,
    /// Share of calls delayed, `"5%"`.
    pub latency_rate: Option<Ratio>,
    /// The delay, `"300ms"`.
    #[serde(with = "crate::config::human::option")]
    pub latency: Option<Duration>,
    /// Share of calls answered by the injected outcome.
    pub outcome_rate: Option<Ratio>,
    /// Share of calls before which the behaviour runs.
    pub behaviour_rate: Option<Ratio>,
    /// Outage windows start this often (with `burst_lasting`).
    #[serde(with = "crate::config::human::option")]
    pub burst_every: Option<Duration>,
    /// How long each outage window lasts (with `burst_every`).
    #[serde(with = "crate::config::human::option")]
    pub burst_lasting: Option<Duration>,
    /// The most injected faults in flight.
    pub max_active: Option<u32>,
    /// Seed of the draws.
    pub seed: Option<u64>,
}

#[cfg(feature = "serde")]
impl<O, P> super::Builder<O, P> {
    /// Applies the settings a file gives; those it leaves out keep this builder's values
    /// (feature `serde`). Windows need both `burst_every` and `burst_lasting`; one alone
    /// changes that part of windows already set.
    ///
    /// ```
    /// use seawall::chaos::{ChaosLayer, ChaosOverrides};
    /// let file: ChaosOverrides = toml::from_str("max_active = 3").unwrap();
    /// let builder = ChaosLayer::builder().with_config(&file);
    /// assert_eq!(builder.config().max_active, 3);
    /// ```
    pub fn with_config(mut self, file: &ChaosOverrides) -> Self {
        use crate::config::keep_unless_set as set;
        let c = self.config_mut();
        set(&mut c.name, &file.name);
        set(&mut c.enabled, &file.enabled);
        set(&mut c.latency_rate, &file.latency_rate);
        set(&mut c.latency, &file.latency);
        set(&mut c.outcome_rate, &file.outcome_rate);
        set(&mut c.behaviour_rate, &file.behaviour_rate);
        set(&mut c.max_active, &file.max_active);
        set(&mut c.seed, &file.seed.map(Some));
        match (file.burst_every, file.burst_lasting, c.bursts) {
            (Some(every), Some(lasting), _) => c.bursts = Some((every, lasting)),
            (Some(every), None, Some((_, lasting))) => c.bursts = Some((every, lasting)),
            (None, Some(lasting), Some((every, _))) => c.bursts = Some((every, lasting)),
            (Some(every), None, None) => c.bursts = Some((every, every)),
            _ => {}
        }
        self
    }
}
