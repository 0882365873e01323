//! What seawall tells you: `tracing` events and, with the `metrics` feature, metrics
//! through the [`metrics`](https://docs.rs/metrics) facade. Every name here is stable.
//!
//! # Events (`tracing`)
//!
//! Emitted on state changes and decisions, never per successful call; nothing is
//! formatted when no subscriber listens.
//!
//! | target | message | level | fields |
//! |---|---|---|---|
//! | `seawall::circuit_breaker` | `circuit breaker opened` | warn | `breaker`, `from`, `to`, `failure_rate`, `slow_call_rate`, `calls`, `open_for_ms` |
//! | `seawall::circuit_breaker` | `circuit breaker state changed` | info | `breaker`, `from`, `to`, `failure_rate`, `slow_call_rate`, `calls` |
//! | `seawall::circuit_breaker` | `circuit breaker reconfigured` / `… refused; settings kept` | info / error | `breaker`, `error` |
//! | `seawall::retry` | `retrying` | debug | `attempt` (the one about to start), `delay`, `reason` |
//! | `seawall::retry` | `retry setting changed` / `… refused; setting kept` | info / error | `retry`, `setting`, `from`, `to` / `error` |
//! | `seawall::retry` | `not retrying` | debug | `attempts`, `reason` (as the `seawall.retry.not_retried` metric's) |
//! | `seawall::bulkhead` | `bulkhead limit changed` / `… refused; limit kept` | info / error | `bulkhead`, `from`, `to` / `error` |
//! | `seawall::adaptive` | `adaptive limit changed` | debug | `limiter`, `from`, `to`, `rtt_us`, `dropped` |
//! | `seawall::rate_limit` | `rate limit changed` / `… refused; rate kept` | info / error | `rate_limit`, `from_permits`, `from_per_ms`, `to_permits`, `to_per_ms` / `error` |
//! | `seawall::timeout`, `seawall::deadline` (the layer whose limit changed) | `time limit changed` / `… refused; limit kept` | info / error | `name`, `layer`, `from_ms`, `to_ms` / `error` |
//! | `seawall::deadline` | `incoming deadline budget ignored` | warn | `header`, `reason`, `value_len` |
//! | `seawall::deadline` | `incoming deadline budget above the server maximum; clamped` | warn | `header`, `requested_ms`, `max_ms` |
//! | `seawall::fleet` | `redis is away; deciding on the last known fleet state` | warn | `namespace`, `live`, `why` |
//! | `seawall::fleet` | `redis is back; the fleet is synced again` | info | `namespace`, `live` |
//! | `seawall::chaos` | `fault injection switched on` / `… off` | warn / info | `layer` |
//!
//! # Metrics (feature `metrics`)
//!
//! Install any `metrics` recorder (for example `metrics-exporter-prometheus`, which turns
//! the dots into underscores). Labels: `layer` (the [`RejectedBy`](crate::RejectedBy)
//! kind in `snake_case`), `name` (the layer's name) and the ones listed.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `seawall.calls` | counter | `layer`, `name`, `outcome` (`success`, `failure`, `ignored`) | calls a layer let through, by how they ended |
//! | `seawall.rejections` | counter | `layer`, `name`, `reason` | calls a layer refused ([`Reason::as_str`](crate::Reason::as_str)) |
//! | `seawall.retry.attempts` | counter | `name` | retries sent (attempts after the first) |
//! | `seawall.retry.not_retried` | counter | `name`, `reason` (`attempts_exhausted`, `budget_spent`, `refused_locally`, `deadline`, `max_elapsed`, `hint_stop`, `hint_above_max_hint`, `not_replayable`, `inner_not_ready`) | failed calls returned without another attempt, by why: a spent budget is told apart from attempts running out |
//! | `seawall.circuit_breaker.state` | gauge | `name` | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only |
//! | `seawall.circuit_breaker.transitions` | counter | `name`, `from`, `to` | state changes |
//! | `seawall.attempt.duration` | histogram | `name` | seconds per attempt, measured by the attempt timeout |
//! | `seawall.in_flight` | gauge | `layer`, `name` | calls running through a bulkhead or adaptive limiter |
//! | `seawall.queued` | gauge | `layer`, `name` | calls waiting in a bulkhead's queue |
//! | `seawall.limit` | gauge | `layer`, `name` | a bulkhead's or adaptive limiter's current limit |
//! | `seawall.fleet.instances` | gauge | `namespace` | live instances of the fleet, as of this instance's last sync (feature `redis`) |
//! | `seawall.fleet.redis_up` | gauge | `namespace` | 1 while this instance's syncs with Redis succeed, 0 while Redis is away |
//! | `seawall.fleet.syncs` | counter | `namespace`, `outcome` (`ok`, `failed`) | this instance's round trips to Redis |
//! | `seawall.hedge.attempts` | counter | `name`, `outcome` (`sent`, `over_budget`, `over_cap`) | hedges a hedging layer sent, or that its budget for extra load refused |
//! | `seawall.fallback.used` | counter | `name`, `outcome` (`answered`, `timed_out`, `over_cap`; `stale` for a stale-if-error answer, name `stale_if_error`) | errors a fallback layer's rule accepted, by what became of them |
//! | `seawall.chaos.injected` | counter | `name`, `kind` (`outcome`, `latency`, `behaviour`) | faults a chaos layer injected |
//!
//! Handles are registered when a layer is built (the call counters) or on first use (a
//! rejection reason, retries, attempt durations) and kept, so a call costs an atomic add
//! per counter and no allocation; without the feature all of it compiles away. Install
//! the recorder before building layers: a handle registered earlier stays with the
//! recorder that was installed then (none).

/// Metric names, as constants.
///
/// ```
/// assert_eq!(seawall::telemetry::names::CALLS, "seawall.calls");
/// ```
pub mod names {
    /// Calls let through, by outcome.
    pub const CALLS: &str = "seawall.calls";
    /// Calls refused, by layer and reason.
    pub const REJECTIONS: &str = "seawall.rejections";
    /// Retries sent.
    pub const RETRY_ATTEMPTS: &str = "seawall.retry.attempts";
    /// Failed calls returned without another attempt, by reason.
    pub const RETRY_NOT_RETRIED: &str = "seawall.retry.not_retried";
    /// A breaker's state as a number.
    pub const BREAKER_STATE: &str = "seawall.circuit_breaker.state";
    /// A breaker's state changes.
    pub const BREAKER_TRANSITIONS: &str = "seawall.circuit_breaker.transitions";
    /// Seconds per attempt.
    pub const ATTEMPT_DURATION: &str = "seawall.attempt.duration";
    /// Calls running through a bulkhead or adaptive limiter.
    pub const IN_FLIGHT: &str = "seawall.in_flight";
    /// Calls waiting in a bulkhead's queue.
    pub const QUEUED: &str = "seawall.queued";
    /// A bulkhead's or adaptive limiter's current limit.
    pub const LIMIT: &str = "seawall.limit";
    /// Live instances of a fleet.
    pub const FLEET_INSTANCES: &str = "seawall.fleet.instances";
    /// Whether this instance's syncs with Redis succeed.
    pub const FLEET_REDIS_UP: &str = "seawall.fleet.redis_up";
    /// Round trips to Redis, by outcome.
    pub const FLEET_SYNCS: &str = "seawall.fleet.syncs";
    /// Hedges sent or refused by the budget.
    pub const HEDGE_ATTEMPTS: &str = "seawall.hedge.attempts";
    /// Fallbacks used, by outcome.
    pub const FALLBACK_USED: &str = "seawall.fallback.used";
    /// Faults a chaos layer injected, by kind.
    pub const CHAOS_INJECTED: &str = "seawall.chaos.injected";
}

/// How many reasons a retry gives up for (slots of `seawall.retry.not_retried`).
pub(crate) const NOT_RETRIED_REASONS: usize = 9;

#[cfg(feature = "metrics")]
pub(crate) use enabled::{Levels, Meter};

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::{Levels, Meter};

/// A meter that futures can hold: an `Arc` with the feature, nothing without it.
#[cfg(feature = "metrics")]
pub(crate) type SharedMeter = std::sync::Arc<Meter>;
/// A meter that futures can hold: an `Arc` with the feature, nothing without it.
#[cfg(not(feature = "metrics"))]
pub(crate) type SharedMeter = Meter;

/// A [`SharedMeter`] for `layer` named `name`.
pub(crate) fn shared_meter(layer: &'static str, name: &str) -> SharedMeter {
    let meter = Meter::new(layer, &std::sync::Arc::from(name));
    #[cfg(feature = "metrics")]
    let meter = std::sync::Arc::new(meter);
    meter
}

/// Measures an attempt, when metrics are on; nothing (and no clock read) otherwise.
#[cfg(feature = "metrics")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stopwatch(tokio::time::Instant);

/// Measures an attempt, when metrics are on; nothing (and no clock read) otherwise.
#[cfg(not(feature = "metrics"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stopwatch;

impl Stopwatch {
    #[inline]
    pub(crate) fn start() -> Self {
        #[cfg(feature = "metrics")]
        return Stopwatch(tokio::time::Instant::now());
        #[cfg(not(feature = "metrics"))]
        return Stopwatch;
    }

    #[inline]
    pub(crate) fn elapsed(&self) -> Option<std::time::Duration> {
        #[cfg(feature = "metrics")]
        return Some(self.0.elapsed());
        #[cfg(not(feature = "metrics"))]
        return None;
    }
}

#[cfg(feature = "metrics")]
mod enabled {
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use metrics::{Counter, Histogram, SharedString};

    use super::names;
    use crate::classify::Outcome;
    use crate::rejection::Reason;

    /// One layer's metric handles: the call counters registered when the layer is
    /// built, the others on first use (so a breaker exports no bulkhead reasons), then
    /// kept. After that, recording is an atomic add with no allocation.
    #[derive(Clone, Debug)]
    pub(crate) struct Meter {
        layer: &'static str,
        name: SharedString,
        calls: [Counter; 3],
        rejections: [OnceLock<Counter>; Reason::KINDS],
        retries: OnceLock<Counter>,
        /// One per reason a failed call is not retried (`GiveUp`).
        not_retried: [OnceLock<Counter>; super::NOT_RETRIED_REASONS],
        attempt_durations: OnceLock<Histogram>,
    }

    impl Meter {
        pub(crate) fn new(layer: &'static str, name: &Arc<str>) -> Self {
            let name = SharedString::from(name.clone());
            let call = |outcome: &'static str| {
                let labels = [
                    ("layer", layer.into()),
                    ("name", name.clone()),
                    ("outcome", outcome.into()),
                ];
                metrics::counter!(names::CALLS, &labels)
            };
            Meter {
                layer,
                calls: [call("success"), call("failure"), call("ignored")],
                rejections: std::array::from_fn(|_| OnceLock::new()),
                retries: OnceLock::new(),
                not_retried: std::array::from_fn(|_| OnceLock::new()),
                attempt_durations: OnceLock::new(),
                name,
            }
        }

        #[inline]
        pub(crate) fn call(&self, outcome: Outcome) {
            let i = match outcome {
                Outcome::Success => 0,
                Outcome::Failure => 1,
                Outcome::Ignored => 2,
            };
            self.calls[i].increment(1);
        }

        pub(crate) fn rejected(&self, reason: Reason) {
            let counter = self.rejections[reason.kind()].get_or_init(|| {
                let labels = [
                    ("layer", self.layer.into()),
                    ("name", self.name.clone()),
                    ("reason", reason.as_str().into()),
                ];
                metrics::counter!(names::REJECTIONS, &labels)
            });
            counter.increment(1);
        }

        /// One retry sent.
        pub(crate) fn retry(&self) {
            self.retries
                .get_or_init(
                    || metrics::counter!(names::RETRY_ATTEMPTS, "name" => self.name.clone()),
                )
                .increment(1);
        }

        /// A failed call returned without another attempt, for the reason in slot `kind`.
        pub(crate) fn not_retried(&self, kind: usize, reason: &'static str) {
            let Some(slot) = self.not_retried.get(kind) else {
                return;
            };
            slot.get_or_init(|| {
                let labels = [("name", self.name.clone()), ("reason", reason.into())];
                metrics::counter!(names::RETRY_NOT_RETRIED, &labels)
            })
            .increment(1);
        }

        /// How long one attempt took.
        pub(crate) fn attempt_duration(&self, took: Duration) {
            self.attempt_durations
                .get_or_init(
                    || metrics::histogram!(names::ATTEMPT_DURATION, "name" => self.name.clone()),
                )
                .record(took.as_secs_f64());
        }

        pub(crate) fn counter(&self, metric: &'static str, extra: &[(&'static str, &'static str)]) {
            let mut labels = vec![("name", self.name.clone())];
            labels.extend(extra.iter().map(|(k, v)| (*k, SharedString::from(*v))));
            metrics::counter!(metric, &labels).increment(1);
        }

        pub(crate) fn gauge(&self, metric: &'static str, value: f64) {
            metrics::gauge!(metric, "name" => self.name.clone()).set(value);
        }

        /// Gauges for in-flight, queued and limit, registered once.
        pub(crate) fn levels(&self) -> Levels {
            let gauge = |metric: &'static str| {
                let labels = [("layer", self.layer.into()), ("name", self.name.clone())];
                metrics::gauge!(metric, &labels)
            };
            Levels {
                gauges: [
                    gauge(names::IN_FLIGHT),
                    gauge(names::QUEUED),
                    gauge(names::LIMIT),
                ],
            }
        }
    }

    /// The in-flight, queued and limit gauges of a semaphore-backed layer.
    #[derive(Clone, Debug)]
    pub(crate) struct Levels {
        gauges: [metrics::Gauge; 3],
    }

    impl Levels {
        #[inline]
        pub(crate) fn set(&self, in_flight: u32, queued: u32, limit: u32) {
            self.gauges[0].set(f64::from(in_flight));
            self.gauges[1].set(f64::from(queued));
            self.gauges[2].set(f64::from(limit));
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::classify::Outcome;
    use crate::rejection::Reason;

    /// Without the `metrics` feature: nothing, at no cost.
    #[derive(Clone, Debug)]
    pub(crate) struct Meter;

    #[allow(clippy::unused_self)]
    impl Meter {
        pub(crate) fn new(_: &'static str, _: &Arc<str>) -> Self {
            Meter
        }
        #[inline(always)]
        pub(crate) fn call(&self, _: Outcome) {}
        #[inline(always)]
        pub(crate) fn rejected(&self, _: Reason) {}
        #[inline(always)]
        pub(crate) fn counter(&self, _: &'static str, _: &[(&'static str, &'static str)]) {}
        #[inline(always)]
        pub(crate) fn gauge(&self, _: &'static str, _: f64) {}
        #[inline(always)]
        pub(crate) fn retry(&self) {}
        #[inline(always)]
        pub(crate) fn not_retried(&self, _: usize, _: &'static str) {}
        #[inline(always)]
        pub(crate) fn attempt_duration(&self, _: Duration) {}
        pub(crate) fn levels(&self) -> Levels {
            Levels
        }
    }

    /// Without the `metrics` feature: nothing, at no cost.
    #[derive(Clone, Debug)]
    pub(crate) struct Levels;

    impl Levels {
        #[inline(always)]
        pub(crate) fn set(&self, _: u32, _: u32, _: u32) {}
    }
}
