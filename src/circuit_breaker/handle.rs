//! Manual control and inspection of a breaker, from anywhere, through a cheap clone.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::state::{Engine, State};

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
    engine: Arc<Engine>,
}

impl CircuitBreakerHandle {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
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
        &self.engine.settings().name
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
        }
    }

    /// Rejects every call until [`reset`](Self::reset) or another manual state.
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

    /// Lets every call through and counts nothing (the breaker is switched off).
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

    /// Back to closed with an empty window and the open-duration backoff reset.
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
}
