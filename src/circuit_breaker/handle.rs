//! Manual control and inspection of a breaker, from anywhere, through a cheap clone.

use std::fmt;
use std::time::Duration;

use super::Link;
use super::config::{CircuitBreakerConfig, OpenBackoffConfig, WindowConfig};
use super::events;
use super::permit::{CallPermit, OwnedCallPermit};
use super::window::Shape;
use super::word::State;
use crate::config::{ConfigError, Ratio};
use crate::rejection::Rejected;

/// Reads and steers one breaker; clone it freely (it is an `Arc`).
///
/// Every service made by the same [`CircuitBreakerLayer`](super::CircuitBreakerLayer), and
/// every clone of those, is controlled by the same handle.
///
/// ```
/// use seawall::circuit_breaker::{CircuitBreakerLayer, State};
///
/// let layer = CircuitBreakerLayer::builder().name("payments").build().unwrap();
/// let handle = layer.handle();
///
/// handle.force_open(); // e.g. during a planned outage of the dependency
/// assert_eq!(handle.state(), State::ForcedOpen);
/// handle.reset();
/// assert_eq!(handle.state(), State::Closed);
/// ```
#[derive(Clone)]
pub struct CircuitBreakerHandle {
    engine: Link<()>,
}

impl CircuitBreakerHandle {
    pub(crate) fn new(engine: Link<()>) -> Self {
        CircuitBreakerHandle { engine }
    }

    /// The breaker's name, as given to the builder and used in events.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().name("inventory").build().unwrap();
    /// assert_eq!(layer.handle().name(), "inventory");
    /// ```
    pub fn name(&self) -> &str {
        self.engine.name()
    }

    /// The calls that failed in a row since the last success the closed breaker
    /// judged (0 after a success, and after the window starts afresh): one atomic load,
    /// cheap enough to read on every pick of a load balancer.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// handle.try_acquire()?.failure();
    /// handle.try_acquire()?.failure();
    /// assert_eq!(handle.failures_in_a_row(), 2);
    /// handle.try_acquire()?.success();
    /// assert_eq!(handle.failures_in_a_row(), 0);
    /// # Ok::<(), seawall::Rejected>(())
    /// ```
    pub fn failures_in_a_row(&self) -> u64 {
        self.engine.failures_in_a_row()
    }

    /// The failures the closed breaker judged so far (wrapping): a change is a new one.
    #[cfg(feature = "balance")]
    pub(crate) fn failures_seen(&self) -> u64 {
        self.engine.failures_seen()
    }

    /// The current state.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// assert_eq!(layer.handle().state(), State::Closed);
    /// ```
    pub fn state(&self) -> State {
        self.engine.state()
    }

    /// A snapshot of what the breaker has counted.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// let metrics = layer.handle().metrics();
    /// assert_eq!(metrics.calls, 0);
    /// assert_eq!(metrics.failure_rate, 0.0);
    /// ```
    pub fn metrics(&self) -> Metrics {
        let tally = self.engine.tally();
        Metrics {
            state: self.engine.state(),
            calls: tally.calls,
            failures: tally.failures,
            slow_calls: tally.slow,
            failure_rate: tally.failure_rate(),
            slow_call_rate: tally.slow_rate(),
            remaining_open: self.engine.remaining_open(),
            consecutive_trips: self.engine.consecutive_trips(),
            probes_running: self.engine.probes_running(),
        }
    }

    /// Asks the breaker for one call made outside tower, exactly as a call through its
    /// services would: a [`CallPermit`] to report the call's outcome with, or the
    /// rejection that call would get.
    ///
    /// # Errors
    ///
    /// The [`Rejected`] of an open, forced-open or saturated half-open breaker.
    ///
    /// ```
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    ///
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// let permit = handle.try_acquire()?;
    /// let answer = 6 * 7; // the guarded work
    /// permit.success();
    /// # let _ = answer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_acquire(&self) -> Result<CallPermit<'_>, Rejected> {
        let permit = self.engine.admit()?;
        Ok(CallPermit::new(&self.engine, permit))
    }

    /// As [`try_acquire`](Self::try_acquire), but the permit owns a reference to the
    /// breaker and may outlive this handle (to move it into a spawned task).
    ///
    /// # Errors
    ///
    /// The [`Rejected`] of an open, forced-open or saturated half-open breaker.
    ///
    /// ```
    /// use seawall::circuit_breaker::{CircuitBreakerLayer, OwnedCallPermit};
    ///
    /// let permit: OwnedCallPermit = CircuitBreakerLayer::builder().build()?.handle().try_acquire_owned()?;
    /// permit.success();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedCallPermit, Rejected> {
        let permit = self.engine.admit()?;
        Ok(OwnedCallPermit::new(self.engine.clone(), permit))
    }

    /// Opens a closed breaker now, on evidence from outside its calls (a failed health
    /// check, an outlier among its peers): as if its calls had tripped it, for its open
    /// duration with its backoff, then probes; within its [`Group`](super::Group)'s
    /// share. Returns whether it opened (not if it was not closed, or its group is full).
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// assert!(handle.trip());
    /// assert_eq!(handle.state(), State::Open);
    /// assert!(!handle.trip(), "already open");
    /// ```
    pub fn trip(&self) -> bool {
        self.engine.trip_closed()
    }

    /// Rejects every call until [`reset`](Self::reset) or another manual state. Calling it
    /// while forced open changes nothing.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// handle.force_open();
    /// assert_eq!(handle.state(), State::ForcedOpen);
    /// ```
    pub fn force_open(&self) {
        self.engine.force(State::ForcedOpen);
    }

    /// Lets every call through and counts nothing (the breaker is switched off). Calling
    /// it while disabled changes nothing.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// handle.disable();
    /// assert_eq!(handle.state(), State::Disabled);
    /// ```
    pub fn disable(&self) {
        self.engine.force(State::Disabled);
    }

    /// Counts calls as usual but never opens: useful to tune thresholds in production.
    /// Entering it starts an empty window; calling it while metrics-only changes nothing.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// handle.metrics_only();
    /// assert_eq!(handle.state(), State::MetricsOnly);
    /// ```
    pub fn metrics_only(&self) {
        self.engine.force(State::MetricsOnly);
    }

    /// Replaces the breaker's settings while it runs: thresholds, minimum calls, slow-call
    /// detection, open duration and backoff, half-open probes and maximum wait. The
    /// window's kind and size, the name and the seed are fixed once built.
    ///
    /// An invalid configuration is refused (and logged as an error event); the breaker
    /// keeps its current settings. The state and the counted calls are kept either way.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid field, as `build()` would, or the
    /// `window` if it differs from the one built.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use seawall::Ratio;
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// let mut config = handle.config();
    /// config.failure_rate_threshold = Ratio::percent(25.0);
    /// handle.reconfigure(&config).unwrap();
    /// assert_eq!(handle.config().failure_rate_threshold, Ratio::fraction(0.25));
    ///
    /// config.failure_rate_threshold = Ratio::percent(140.0);
    /// let err = handle.reconfigure(&config).unwrap_err();
    /// assert_eq!(err.to_string(), "circuit_breaker.failure_rate_threshold: 140 is outside (0, 100]");
    /// assert_eq!(handle.config().failure_rate_threshold, Ratio::percent(25.0));
    /// ```
    pub fn reconfigure(&self, config: &CircuitBreakerConfig) -> Result<(), ConfigError> {
        let result = config.validate().and_then(|(settings, shape)| {
            self.engine.reload(&settings, shape).map_err(|built| {
                let wanted = format!("{:?}", config.window);
                let allowed = format!("{:?} (fixed once built)", self.window_config(built));
                ConfigError::new("window", wanted, allowed)
            })
        });
        let result = result.map_err(|e| e.within("circuit_breaker"));
        events::reconfigured(&self.engine, result.as_ref().err());
        result
    }

    /// The settings in force now, as a configuration (for example to change one field
    /// and [`reconfigure`](Self::reconfigure)).
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, WindowConfig};
    /// let handle = CircuitBreakerLayer::builder().count_window(20).build().unwrap().handle();
    /// assert_eq!(handle.config().window, WindowConfig::Count(20));
    /// ```
    pub fn config(&self) -> CircuitBreakerConfig {
        let s = self.engine.settings();
        CircuitBreakerConfig {
            name: self.name().to_owned(),
            window: self.window_config(self.engine.shape()),
            failure_rate_threshold: Ratio::percent(s.failure_rate_threshold),
            slow_call_rate_threshold: Ratio::percent(s.slow_call_rate_threshold),
            slow_call_duration: s.slow_call_duration,
            minimum_calls: s
                .minimum_set
                .then(|| u32::try_from(s.minimum_calls).ok())
                .flatten(),
            confidence: s.evidence.map(|e| Ratio::fraction(e.confidence())),
            open_duration: s.open.base,
            open_backoff: (s.open.max != s.open.base || s.open.multiplier != 1.0).then_some(
                OpenBackoffConfig {
                    multiplier: s.open.multiplier,
                    max: s.open.max,
                },
            ),
            open_backoff_decay: s.open.decay,
            open_jitter: s.open.jitter,
            half_open_calls: u32::try_from(s.half_open_calls).unwrap_or(u32::MAX),
            steady_probing: s.steady_probing,
            max_wait_in_half_open: s.max_wait_in_half_open,
            seed: None,
            open_timer: s.open_timer,
        }
    }

    fn window_config(&self, shape: Shape) -> WindowConfig {
        match shape {
            Shape::Count(size) => WindowConfig::Count(size),
            Shape::Time { buckets, bucket_ms } => WindowConfig::Time {
                window: Duration::from_millis(bucket_ms * u64::from(buckets)),
                buckets,
            },
            Shape::Consecutive => {
                let run = self.engine.settings().consecutive_failures.unwrap_or(1);
                WindowConfig::ConsecutiveFailures(u32::try_from(run).unwrap_or(u32::MAX))
            }
        }
    }

    /// Back to closed with an empty window and the open-duration backoff reset. On a
    /// closed breaker it empties the window without reporting a transition.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let handle = CircuitBreakerLayer::builder().build().unwrap().handle();
    /// handle.force_open();
    /// handle.reset();
    /// assert_eq!(handle.state(), State::Closed);
    /// ```
    pub fn reset(&self) {
        self.engine.force(State::Closed);
    }
}

impl fmt::Debug for CircuitBreakerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerHandle")
            .field("name", &self.name())
            .field("state", &self.state())
            .finish()
    }
}

/// What a breaker has counted, at one moment.
///
/// While closed (or metrics-only) the numbers describe the sliding window; while
/// half-open, the probes of this half-open period; while open, the window that tripped
/// it (for a consecutive-failures breaker, the current run of failures).
///
/// ```
/// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
/// let m = CircuitBreakerLayer::builder().build().unwrap().handle().metrics();
/// assert_eq!(m.state, State::Closed);
/// assert_eq!(m.remaining_open, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// The state at the time of the snapshot.
    pub state: State,
    /// Calls counted (successes, failures and slow calls; ignored calls are not).
    pub calls: u64,
    /// Failed calls among them.
    pub failures: u64,
    /// Slow calls among them (whatever their outcome).
    pub slow_calls: u64,
    /// `failures / calls` in percent; 0 with no calls.
    pub failure_rate: f64,
    /// `slow_calls / calls` in percent; 0 with no calls.
    pub slow_call_rate: f64,
    /// While open: how long until the breaker lets a probe through.
    pub remaining_open: Option<Duration>,
    /// Trips since the last healthy close (drives the open-duration backoff).
    pub consecutive_trips: u32,
    /// Half-open probes admitted and not finished yet, of this half-open period and
    /// earlier ones: zero once no probe runs (a dropped probe gives its slot back). Read
    /// while the breaker changes state, it may count a probe twice for that instant.
    pub probes_running: u64,
}
