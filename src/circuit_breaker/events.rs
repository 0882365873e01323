//! The breaker's `tracing` events. Emitted on state transitions only, never per call.
//!
//! Target `seawall::circuit_breaker`; the common fields of [`telemetry`](crate::telemetry)
//! (`seawall.layer`, `seawall.name`, `event.name`), then `from`, `to`,
//! `failure_rate` and `slow_call_rate` (percent, over the evidence that caused the
//! transition), `calls` (how many calls that evidence holds) and, when opening,
//! `open_for_ms` and `by`: `"local"` when this instance's calls opened it, `"fleet"` when
//! the fleet's did (feature `redis`: the fleet's calls, or another instance's period).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::builder::Builder;
use super::engine::Engine;
use super::window::Tally;
use super::word::State;

/// A state transition, as passed to a listener set with
/// [`Builder::on_state_change`](super::Builder::on_state_change).
///
/// ```
/// use seawall::circuit_breaker::{CircuitBreakerLayer, State, StateChange};
///
/// let layer = CircuitBreakerLayer::builder()
///     .on_state_change(|change: &StateChange<'_>| {
///         if change.to == State::Open {
///             eprintln!("ALERT: {} opened at {:.0} % failures", change.breaker, change.failure_rate);
///         }
///     })
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct StateChange<'a> {
    /// The breaker's name.
    pub breaker: &'a str,
    /// The state it left.
    pub from: State,
    /// The state it entered.
    pub to: State,
    /// Failure rate (percent) of the evidence behind the change; 0 for timed and manual
    /// changes.
    pub failure_rate: f64,
    /// Slow-call rate (percent) of that evidence.
    pub slow_call_rate: f64,
    /// How many calls that evidence holds.
    pub calls: u64,
}

/// A shared state-change callback.
#[derive(Clone)]
pub(crate) struct Listener(pub(crate) Arc<dyn Fn(&StateChange<'_>) + Send + Sync>);

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Listener(..)")
    }
}

impl<C> Builder<C> {
    /// Calls `listener` on every state transition (after its `tracing` event), for
    /// programmatic reactions such as alerts. It runs on the thread of the call that
    /// caused the transition, so keep it short; never called per call.
    ///
    /// ```
    /// use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    ///
    /// let opened = Arc::new(AtomicU32::new(0));
    /// let count = opened.clone();
    /// let layer = CircuitBreakerLayer::builder()
    ///     .on_state_change(move |change| {
    ///         if change.to == State::Open {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build()?;
    /// layer.handle().force_open(); // manual states are transitions too, but not `Open`
    /// assert_eq!(opened.load(Ordering::Relaxed), 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn on_state_change(
        mut self,
        listener: impl Fn(&StateChange<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Listener(Arc::new(listener)));
        self
    }
}

fn notify(engine: &Engine, from: State, to: State, tally: &Tally) {
    let meter = engine.meter();
    let labels = [("from", from.as_str()), ("to", to.as_str())];
    meter.counter(crate::telemetry::names::BREAKER_TRANSITIONS, &labels);
    meter.gauge(crate::telemetry::names::BREAKER_STATE, f64::from(to.code()));
    if let Some(listener) = engine.listener() {
        let change = StateChange {
            breaker: engine.name(),
            from,
            to,
            failure_rate: tally.failure_rate(),
            slow_call_rate: tally.slow_rate(),
            calls: tally.calls,
        };
        // A listener runs inside the breaker's transitions (some before a probe's permit
        // exists): its panic is reported and contained, so it cannot leave the breaker
        // half-changed or a probe slot taken by nobody.
        let heard =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (listener.0)(&change)));
        if heard.is_err() {
            crate::telemetry::event!(
                error,
                "circuit_breaker",
                engine.name(),
                "listener_panicked",
                from = from.as_str(),
                to = to.as_str(),
                "circuit breaker state-change listener panicked; the change stands"
            );
        }
    }
}

/// Who decided a change: this instance's calls, or its fleet's (feature `redis`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum By {
    Local,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Fleet,
}

impl By {
    fn as_str(self) -> &'static str {
        match self {
            By::Local => "local",
            By::Fleet => "fleet",
        }
    }
}

pub(crate) fn opened(
    engine: &Engine,
    from: State,
    tally: Option<Tally>,
    open_for: Duration,
    by: By,
) {
    let tally = tally.unwrap_or_default();
    crate::telemetry::event!(
        warn,
        "circuit_breaker",
        engine.name(),
        "opened",
        from = from.as_str(),
        to = State::Open.as_str(),
        failure_rate = tally.failure_rate(),
        slow_call_rate = tally.slow_rate(),
        calls = tally.calls,
        open_for_ms = open_for.as_millis() as u64,
        by = by.as_str(),
        "circuit breaker opened"
    );
    notify(engine, from, State::Open, &tally);
}

pub(crate) fn transition(engine: &Engine, from: State, to: State, tally: Option<Tally>) {
    transition_by(engine, from, to, tally, By::Local);
}

pub(crate) fn transition_by(engine: &Engine, from: State, to: State, tally: Option<Tally>, by: By) {
    let tally = tally.unwrap_or_default();
    crate::telemetry::event!(
        info,
        "circuit_breaker",
        engine.name(),
        "state_changed",
        from = from.as_str(),
        to = to.as_str(),
        failure_rate = tally.failure_rate(),
        slow_call_rate = tally.slow_rate(),
        calls = tally.calls,
        by = by.as_str(),
        "circuit breaker state changed"
    );
    notify(engine, from, to, &tally);
}

pub(crate) fn reconfigured(engine: &Engine, error: Option<&crate::ConfigError>) {
    match error {
        None => crate::telemetry::event!(
            info,
            "circuit_breaker",
            engine.name(),
            "reconfigured",
            "circuit breaker reconfigured"
        ),
        Some(error) => crate::telemetry::event!(
            error,
            "circuit_breaker",
            engine.name(),
            "reconfigure_refused",
            %error,
            "circuit breaker reconfiguration refused; settings kept"
        ),
    }
}
