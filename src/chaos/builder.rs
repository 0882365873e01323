//! Settings for a chaos layer: what to inject, how often, when and to which calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use super::config::ChaosConfig;
use super::layer::ChaosLayer;
use super::state::{Behaviour, Shared};
use crate::config::{ConfigError, Ratio};
use crate::random::Draws;
use crate::telemetry::Meter;
use crate::time::Epoch;

/// What a call answered by injection gets (Polly Simmy's fault and outcome strategies):
/// implemented for closures `Fn() -> Result<T, E>`; [`NoOutcome`] injects none.
///
/// ```
/// use seawall::chaos::Inject;
/// let unavailable = || Err::<u8, &str>("503");
/// assert_eq!(unavailable.inject(), Some(Err("503")));
/// ```
pub trait Inject<T, E> {
    /// The injected result; `None` lets the call run.
    ///
    /// ```
    /// use seawall::chaos::Inject;
    /// let canned = || Ok::<&str, ()>("cached page");
    /// assert_eq!(canned.inject(), Some(Ok("cached page")));
    /// ```
    fn inject(&self) -> Option<Result<T, E>>;
}

impl<F, T, E> Inject<T, E> for F
where
    F: Fn() -> Result<T, E>,
{
    fn inject(&self) -> Option<Result<T, E>> {
        Some(self())
    }
}

/// No injected outcome: the default.
///
/// ```
/// use seawall::chaos::{Inject, NoOutcome};
/// assert_eq!(Inject::<u8, ()>::inject(&NoOutcome), None);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOutcome;

impl<T, E> Inject<T, E> for NoOutcome {
    fn inject(&self) -> Option<Result<T, E>> {
        None
    }
}

/// Which requests faults may touch: implemented for closures `Fn(&Req) -> bool`;
/// [`Every`] selects every request.
///
/// ```
/// use seawall::chaos::Select;
/// let tagged = |r: &(&str, bool)| r.1;
/// assert!(tagged.selects(&("x", true)));
/// ```
pub trait Select<Req> {
    /// Whether faults may touch `request`.
    ///
    /// ```
    /// use seawall::chaos::Select;
    /// let small = |n: &u32| *n < 10;
    /// assert!(small.selects(&3) && !small.selects(&30));
    /// ```
    fn selects(&self, request: &Req) -> bool;
}

impl<F, Req> Select<Req> for F
where
    F: Fn(&Req) -> bool,
{
    fn selects(&self, request: &Req) -> bool {
        self(request)
    }
}

/// Every request may be touched: the default.
///
/// ```
/// use seawall::chaos::{Every, Select};
/// assert!(Every.selects(&42));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Every;

impl<Req> Select<Req> for Every {
    fn selects(&self, _: &Req) -> bool {
        true
    }
}

/// Settings for a [`ChaosLayer`]. Defaults: nothing injected, switched off.
///
/// ```
/// use seawall::chaos::ChaosLayer;
/// use seawall::Ratio;
/// use std::time::Duration;
///
/// let layer = ChaosLayer::builder()
///     .name("payments-chaos")
///     .outcome(Ratio::percent(10.0), || Err::<u16, std::io::Error>(std::io::ErrorKind::ConnectionReset.into()))
///     .latency(Ratio::percent(5.0), Duration::from_millis(800))
///     .bursts(Duration::from_secs(60), Duration::from_secs(10))
///     .seed(7)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[must_use = "call `build()` to get the layer"]
pub struct Builder<O = NoOutcome, P = Every> {
    config: ChaosConfig,
    outcome: O,
    /// Whether [`outcome`](Self::outcome) was called (a rate alone injects nothing).
    outcome_given: bool,
    only: P,
    behaviour: Option<Behaviour>,
}

impl<O: std::fmt::Debug, P: std::fmt::Debug> std::fmt::Debug for Builder<O, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("outcome", &self.outcome)
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(super) fn new() -> Self {
        Builder {
            config: ChaosConfig::default(),
            outcome: NoOutcome,
            outcome_given: false,
            only: Every,
            behaviour: None,
        }
    }

    /// A builder from plain settings (an injected outcome, behaviour and selection are
    /// set with their methods).
    ///
    /// ```
    /// use seawall::chaos::{Builder, ChaosConfig};
    /// let mut config = ChaosConfig::default();
    /// config.enabled = true;
    /// let layer = Builder::from_config(config).build()?;
    /// assert!(layer.handle().is_enabled());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn from_config(config: ChaosConfig) -> Self {
        Builder {
            config,
            ..Builder::new()
        }
    }
}

impl<O, P> Builder<O, P> {
    /// The name in events. Default: `"chaos"`.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let layer = ChaosLayer::builder().name("db-chaos").build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Whether injection starts switched on. Default: off (switch on here or through the
    /// handle, and off again with the handle's kill switch).
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// assert!(ChaosLayer::builder().enabled(true).build()?.handle().is_enabled());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn enabled(mut self, on: bool) -> Self {
        self.config.enabled = on;
        self
    }

    /// Delays a share `rate` of calls by `delay` before they run (Simmy's latency
    /// strategy). Allowed: `rate` in `[0%, 100%]`, `delay` in `(0s, 1 day]`.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use std::time::Duration;
    /// use seawall::Ratio;
    /// let layer = ChaosLayer::builder().latency(Ratio::percent(1.0), Duration::from_secs(2)).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn latency(mut self, rate: Ratio, delay: Duration) -> Self {
        self.config.latency_rate = rate;
        self.config.latency = delay;
        self
    }

    /// Answers a share `rate` of calls with what `outcome` returns instead of calling the
    /// service: an `Err` is Simmy's fault strategy, an `Ok` its outcome strategy.
    /// Drawn before the latency, so a call gets one or the other. Allowed: `[0%, 100%]`.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// use seawall::Ratio;
    /// let layer = ChaosLayer::builder()
    ///     .outcome(Ratio::percent(2.0), || Err::<String, &str>("injected 503"))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn outcome<O2>(self, rate: Ratio, outcome: O2) -> Builder<O2, P> {
        let mut config = self.config;
        config.outcome_rate = rate;
        Builder {
            config,
            outcome,
            outcome_given: true,
            only: self.only,
            behaviour: self.behaviour,
        }
    }

    /// Runs `behaviour` before a share `rate` of calls (Simmy's behaviour strategy: drop a
    /// connection pool, fill a disk, anything with a side effect). Allowed: `[0%, 100%]`.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// use seawall::Ratio;
    /// let layer = ChaosLayer::builder()
    ///     .behaviour(Ratio::percent(1.0), || tracing::warn!("pretending the pool was reset"))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn behaviour(mut self, rate: Ratio, behaviour: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.behaviour_rate = rate;
        self.behaviour = Some(Arc::new(behaviour));
        self
    }

    /// Faults only for requests `only` selects: an allow-listed header or extension, for
    /// testing in production on chosen calls.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let layer = ChaosLayer::builder()
    ///     .only_for(|request: &(u32, bool)| request.1)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn only_for<P2>(self, only: P2) -> Builder<O, P2> {
        Builder {
            config: self.config,
            outcome: self.outcome,
            outcome_given: self.outcome_given,
            only,
            behaviour: self.behaviour,
        }
    }

    /// Faults only inside windows lasting `lasting` that start every `every` (counted
    /// from when the layer is built): outages in bursts, as real ones come, rather than
    /// independent coin flips. Allowed: `every` in `(0s, 1 day]`, `lasting` in
    /// `(0s, every]`. Default: no windows (any time). Reads the clock on each call
    /// while switched on.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use std::time::Duration;
    /// let layer = ChaosLayer::builder()
    ///     .bursts(Duration::from_secs(60), Duration::from_secs(5))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn bursts(mut self, every: Duration, lasting: Duration) -> Self {
        self.config.bursts = Some((every, lasting));
        self
    }

    /// The most injected faults (delays and outcomes) in flight at once; beyond it calls
    /// run untouched. Allowed: at least 1. Default: no cap.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let layer = ChaosLayer::builder().max_active(10).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_active(mut self, most: u32) -> Self {
        self.config.max_active = most;
        self
    }

    /// Seeds the draws, for runs that repeat exactly (in paused time). Default: random.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let layer = ChaosLayer::builder().seed(42).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    #[cfg(feature = "serde")]
    pub(super) fn config_mut(&mut self) -> &mut ChaosConfig {
        &mut self.config
    }

    /// The plain settings so far.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// assert_eq!(ChaosLayer::builder().name("x").config().name, "x");
    /// ```
    pub fn config(&self) -> &ChaosConfig {
        &self.config
    }

    /// Checks the settings and creates the layer's shared state.
    ///
    /// # Errors
    ///
    /// The first setting out of range, named, e.g.
    /// `chaos.latency_rate: 120% is outside [0%, 100%]`.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// # use std::time::Duration;
    /// use seawall::Ratio;
    /// let err = ChaosLayer::builder()
    ///     .latency(Ratio::percent(120.0), Duration::from_secs(1))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "chaos.latency_rate: 120% is outside [0%, 100%]");
    /// ```
    pub fn build(self) -> Result<ChaosLayer<O, P>, ConfigError> {
        let name = self.config.name.clone();
        let settings = self.config.validate().map_err(|e| e.within(&name))?;
        if settings.outcome_rate > 0.0 && !self.outcome_given {
            let rate = self.config.outcome_rate;
            let allowed = "0% (no outcome is set: use `outcome(rate, f)`)";
            return Err(ConfigError::new("outcome_rate", rate, allowed).within(&name));
        }
        if settings.behaviour_rate > 0.0 && self.behaviour.is_none() {
            let rate = self.config.behaviour_rate;
            let allowed = "0% (no behaviour is set: use `behaviour(rate, f)`)";
            return Err(ConfigError::new("behaviour_rate", rate, allowed).within(&name));
        }
        let meter = Meter::new("chaos", &Arc::from(name.as_str()));
        let shared = Shared {
            name,
            meter,
            enabled: AtomicBool::new(self.config.enabled),
            settings,
            draws: Draws::new(self.config.seed.unwrap_or_else(rand::random)),
            epoch: Epoch::now(),
            behaviour: self.behaviour,
            active: crate::cap::Cap::new(settings.max_active),
            outcomes: AtomicU64::new(0),
            delays: AtomicU64::new(0),
            behaviours: AtomicU64::new(0),
        };
        Ok(ChaosLayer {
            shared: Arc::new(shared),
            outcome: self.outcome,
            only: self.only,
        })
    }
}
