//! The breaker's `tracing` events. Emitted on state transitions only, never per call.
//!
//! Target `seawall::circuit_breaker`; fields `breaker` (the name), `from`, `to`,
//! `failure_rate` and `slow_call_rate` (percent, over the evidence that caused the
//! transition), `calls` (how many calls that evidence holds) and, when opening,
//! `open_for_ms`.

use std::time::Duration;

use super::state::{Engine, State};
use super::window::Tally;

pub(crate) const TARGET: &str = "seawall::circuit_breaker";

pub(crate) fn opened(engine: &Engine, from: State, tally: Option<Tally>, open_for: Duration) {
    let tally = tally.unwrap_or_default();
    tracing::warn!(
        target: TARGET,
        breaker = engine.name(),
        from = from.as_str(),
        to = State::Open.as_str(),
        failure_rate = tally.failure_rate(),
        slow_call_rate = tally.slow_rate(),
        calls = tally.calls,
        open_for_ms = open_for.as_millis() as u64,
        "circuit breaker opened"
    );
}

pub(crate) fn transition(engine: &Engine, from: State, to: State, tally: Option<Tally>) {
    let tally = tally.unwrap_or_default();
    tracing::info!(
        target: TARGET,
        breaker = engine.name(),
        from = from.as_str(),
        to = to.as_str(),
        failure_rate = tally.failure_rate(),
        slow_call_rate = tally.slow_rate(),
        calls = tally.calls,
        "circuit breaker state changed"
    );
}

pub(crate) fn reconfigured(engine: &Engine, error: Option<&crate::ConfigError>) {
    match error {
        None => tracing::info!(
            target: TARGET,
            breaker = engine.name(),
            "circuit breaker reconfigured"
        ),
        Some(error) => tracing::error!(
            target: TARGET,
            breaker = engine.name(),
            %error,
            "circuit breaker reconfiguration refused; settings kept"
        ),
    }
}
