//! What seawall tells you, in one vocabulary: `tracing` events and spans, and, with the
//! `metrics` feature, metrics through the [`metrics`](https://docs.rs/metrics) facade.
//! Every name here is stable.
//!
//! # The vocabulary
//!
//! Every event and span seawall emits carries the same fields ([`fields`]), named after
//! OpenTelemetry's conventions where one exists and after Polly's resilience events
//! otherwise (OpenTelemetry has no resilience conventions yet):
//!
//! | field | value | in |
//! |---|---|---|
//! | `seawall.layer` | the layer kind: `circuit_breaker`, `retry`, `bulkhead`, `adaptive`, `rate_limit`, `timeout`, `deadline`, `chaos`, `balance`, `fleet` | every event and span |
//! | `seawall.name` | the layer's name (its builder's `name`; a fleet's namespace; a deadline header) | every event and span |
//! | `event.name` | `seawall.<layer>.<event>`, below: the stable key to filter on (messages are for people and may be reworded) | every event |
//! | `seawall.outcome` | `success`, `failure`, `ignored` (the classifier's verdict) | attempt and call spans |
//! | `seawall.reason` | why: a retry's reason, why one was not sent, why a header was ignored | events that decide |
//! | `seawall.attempt` | the attempt's number, from 1 | retry events, attempt spans |
//! | `error.type` | OpenTelemetry's: the error's type name, or `_OTHER` for a response classified as failure | retry events, spans that failed |
//! | `http.request.resend_count` | OpenTelemetry's: how many times the request was sent before (set on retries only) | attempt spans |
//!
//! Durations are in fields named `*_ms`; other fields are named where they appear.
//!
//! # Events (`tracing`)
//!
//! Emitted on state changes and decisions, never per successful call; nothing is
//! formatted when no subscriber listens. The target is `seawall::<layer>`.
//!
//! | `event.name` | level | fields besides the common ones |
//! |---|---|---|
//! | `seawall.circuit_breaker.opened` | warn | `from`, `to`, `failure_rate`, `slow_call_rate`, `calls`, `open_for_ms`, `by` (`local` or `fleet`) |
//! | `seawall.circuit_breaker.state_changed` | info | `from`, `to`, `failure_rate`, `slow_call_rate`, `calls`, `by` |
//! | `seawall.circuit_breaker.reconfigured` / `.reconfigure_refused` | info / error | — / `error` |
//! | `seawall.circuit_breaker.probes_saturated` | warn | `running`: probes of earlier half-open periods that still hold every slot |
//! | `seawall.circuit_breaker.listener_panicked` | error | `from`, `to` |
//! | `seawall.retry.retrying` | debug | `seawall.attempt` (the one about to start), `seawall.reason`, `error.type`, `delay_ms` |
//! | `seawall.retry.not_retrying` | debug | `seawall.attempt` (attempts made), `seawall.reason` (as the `seawall.retry.not_retried` metric's), `error.type` |
//! | `seawall.retry.setting_changed` / `.setting_refused` | info / error | `setting`, `from`, `to` / `error` |
//! | `seawall.bulkhead.limit_changed` / `.limit_refused` | info / error | `from`, `to` / `error` |
//! | `seawall.adaptive.limit_changed` | debug | `from`, `to`, `rtt_us`, `dropped` |
//! | `seawall.rate_limit.rate_changed` / `.rate_refused` | info / error | `from_permits`, `from_per_ms`, `to_permits`, `to_per_ms` / `error` |
//! | `seawall.timeout.limit_changed`, `seawall.deadline.limit_changed` / `.limit_refused` | info / error | `from_ms`, `to_ms` / `error` |
//! | `seawall.deadline.budget_ignored` | warn | `seawall.reason`, `value_len` |
//! | `seawall.deadline.budget_clamped` | warn | `requested_ms`, `max_ms` |
//! | `seawall.fleet.redis_away` | warn | `live`, `seawall.reason` |
//! | `seawall.fleet.redis_back` | info | `live` |
//! | `seawall.chaos.enabled` / `.disabled` | warn / info | — |
//! | `seawall.balance.outliers_ejected` | warn | `ejected` |
//!
//! # Spans (`tracing`, a switch per layer)
//!
//! With [`retry::Builder::spans`](crate::retry::Builder::spans) (in a standard pipeline,
//! `.retry(|r| r.spans(true))`), each
//! call runs in a span `seawall.call` and each attempt in a child span `seawall.attempt`,
//! both at level `info` with target `seawall::call`, so that the inner service's own
//! spans and events (hyper's, tonic's) nest under the attempt that made them:
//!
//! | span | fields |
//! |---|---|
//! | `seawall.call` | `seawall.layer`, `seawall.name`, `seawall.outcome`, `seawall.attempt` (attempts made), `error.type` |
//! | `seawall.attempt` | `seawall.layer`, `seawall.name`, `seawall.attempt`, `http.request.resend_count`, `seawall.outcome`, `error.type` |
//!
//! `tracing-opentelemetry` exports them as OpenTelemetry spans with these attributes
//! (`extras/examples/opentelemetry.rs` in the repository: `cargo run -p seawall-extras
//! --example opentelemetry` prints the traces). Off (the default),
//! a call makes no span, reads no clock and allocates nothing for them.
//!
//! # Metrics (feature `metrics`)
//!
//! Install any `metrics` recorder (for example `metrics-exporter-prometheus`, which turns
//! the dots into underscores). Each metric is described, with its unit, when a layer is
//! built ([`describe_metrics`] does it again, for a recorder installed later; without
//! the feature it does nothing). Labels:
//! `layer` (the [`RejectedBy`](crate::RejectedBy) kind in `snake_case`), `name` (the
//! layer's name) and the ones listed.
//!
//! | name | kind | unit | labels | meaning |
//! |---|---|---|---|---|
//! | `seawall.calls` | counter | calls | `layer`, `name`, `outcome` (`success`, `failure`, `ignored`) | calls a layer let through, by how they ended |
//! | `seawall.rejections` | counter | calls | `layer`, `name`, `reason` | calls a layer refused ([`Reason::as_str`](crate::Reason::as_str)) |
//! | `seawall.retry.attempts` | counter | attempts | `name` | retries sent (attempts after the first) |
//! | `seawall.retry.not_retried` | counter | calls | `name`, `reason` (`attempts_exhausted`, `budget_spent`, `refused_locally`, `deadline`, `max_elapsed`, `hint_stop`, `hint_above_max_hint`, `not_replayable`, `inner_not_ready`) | failed calls returned without another attempt, by why: a spent budget is told apart from attempts running out |
//! | `seawall.circuit_breaker.state` | gauge | — | `name` | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 metrics only |
//! | `seawall.circuit_breaker.transitions` | counter | transitions | `name`, `from`, `to` | state changes |
//! | `seawall.attempt.duration` | histogram | seconds | `name` | time per attempt, measured by the attempt timeout |
//! | `seawall.in_flight` | gauge | calls | `layer`, `name` | calls running through a bulkhead or adaptive limiter |
//! | `seawall.queued` | gauge | calls | `layer`, `name` | calls waiting in a bulkhead's queue |
//! | `seawall.limit` | gauge | calls | `layer`, `name` | a bulkhead's or adaptive limiter's current limit |
//! | `seawall.fleet.instances` | gauge | instances | `namespace` | live instances of the fleet, as of this instance's last sync (feature `redis`) |
//! | `seawall.fleet.redis_up` | gauge | — | `namespace` | 1 while this instance's syncs with Redis succeed, 0 while Redis is away |
//! | `seawall.fleet.syncs` | counter | round trips | `namespace`, `outcome` (`ok`, `failed`) | this instance's round trips to Redis |
//! | `seawall.hedge.attempts` | counter | attempts | `name`, `outcome` (`sent`, `over_budget`, `over_cap`) | hedges a hedging layer sent, or that its budget for extra load refused |
//! | `seawall.fallback.used` | counter | calls | `name`, `outcome` (`answered`, `timed_out`, `over_cap`; `stale` for a stale-if-error answer, name `stale_if_error`) | errors a fallback layer's rule accepted, by what became of them |
//! | `seawall.chaos.injected` | counter | faults | `name`, `kind` (`outcome`, `latency`, `behaviour`) | faults a chaos layer injected |
//!
//! ## gRPC's retry metrics (gRFC A96)
//!
//! For tonic clients, [`retry::Builder::grpc_metrics`](crate::retry::Builder::grpc_metrics)
//! and [`hedge::Builder::grpc_metrics`](crate::hedge::Builder::grpc_metrics) record, per
//! call, the histograms gRPC's own clients record (gRFC A96), labelled `grpc.method` and
//! `grpc.target` as given to the builder:
//!
//! | name | unit | meaning |
//! |---|---|---|
//! | `grpc.client.call.retries` | `{retry}` | retries of a call that was retried (0 is not recorded) |
//! | `grpc.client.call.retry_delay` | seconds | time a retried call spent between attempts |
//! | `grpc.client.call.hedges` | `{hedge}` | hedges sent for a call that was hedged (0 is not recorded) |
//!
//! Handles are registered when a layer is built (the call counters) or on first use (a
//! rejection reason, retries, attempt durations) and kept, so a call costs an atomic add
//! per counter and no allocation; without the feature all of it compiles away. Install
//! the recorder before building layers: a handle registered earlier stays with the
//! recorder that was installed then (none).

mod meter;
mod trace;

pub(crate) use trace::{CallTrace, error_type};

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
    /// gRFC A96: retries per retried call.
    pub const GRPC_CALL_RETRIES: &str = "grpc.client.call.retries";
    /// gRFC A96: seconds a retried call spent between attempts.
    pub const GRPC_CALL_RETRY_DELAY: &str = "grpc.client.call.retry_delay";
    /// gRFC A96: hedges per hedged call.
    pub const GRPC_CALL_HEDGES: &str = "grpc.client.call.hedges";
}

/// The field names of seawall's events and spans, as constants (see the table above).
///
/// ```
/// assert_eq!(seawall::telemetry::fields::LAYER, "seawall.layer");
/// ```
pub mod fields {
    /// The layer kind, such as `retry`.
    pub const LAYER: &str = "seawall.layer";
    /// The layer's name.
    pub const NAME: &str = "seawall.name";
    /// The stable event key, `seawall.<layer>.<event>`.
    pub const EVENT: &str = "event.name";
    /// `success`, `failure` or `ignored`.
    pub const OUTCOME: &str = "seawall.outcome";
    /// Why a decision went the way it did.
    pub const REASON: &str = "seawall.reason";
    /// An attempt's number, from 1.
    pub const ATTEMPT: &str = "seawall.attempt";
    /// OpenTelemetry's `error.type`.
    pub const ERROR_TYPE: &str = "error.type";
    /// OpenTelemetry's `http.request.resend_count`.
    pub const RESEND_COUNT: &str = "http.request.resend_count";
}

/// Emits a `tracing` event in seawall's vocabulary: target `seawall::<layer>`, the
/// fields `seawall.layer`, `seawall.name` and `event.name` (`seawall.<layer>.<event>`),
/// then the event's own fields and message.
macro_rules! event {
    (error, $($rest:tt)+) => { $crate::telemetry::event!(@ ERROR, $($rest)+) };
    (warn, $($rest:tt)+) => { $crate::telemetry::event!(@ WARN, $($rest)+) };
    (info, $($rest:tt)+) => { $crate::telemetry::event!(@ INFO, $($rest)+) };
    (debug, $($rest:tt)+) => { $crate::telemetry::event!(@ DEBUG, $($rest)+) };
    (@ $level:ident, $layer:literal, $name:expr, $event:literal, $($rest:tt)+) => {
        ::tracing::event!(
            target: concat!("seawall::", $layer),
            ::tracing::Level::$level,
            seawall.layer = $layer,
            seawall.name = $name,
            event.name = concat!("seawall.", $layer, ".", $event),
            $($rest)+
        )
    };
}
pub(crate) use event;

/// Checks the labels of gRFC A96's histograms: both must be named.
#[cfg(feature = "metrics")]
pub(crate) fn check_grpc_labels(method: &str, target: &str) -> Result<(), crate::ConfigError> {
    for (field, value) in [
        ("grpc_metrics.method", method),
        ("grpc_metrics.target", target),
    ] {
        if value.trim().is_empty() {
            let allowed = "a non-empty name (A96 uses \"other\" for an unknown method)";
            return Err(crate::ConfigError::new(
                field,
                format!("{value:?}"),
                allowed,
            ));
        }
    }
    Ok(())
}

/// Describes every metric above, with its unit, to the installed `metrics` recorder.
/// Layers do this when they are built; call it after installing a recorder if layers
/// were built before.
///
/// ```
/// seawall::telemetry::describe_metrics(); // a no-op without a recorder
/// ```
pub fn describe_metrics() {
    #[cfg(feature = "metrics")]
    meter::enabled::describe();
}

/// How many reasons a retry gives up for (slots of `seawall.retry.not_retried`).
pub(crate) const NOT_RETRIED_REASONS: usize = 9;

#[cfg(feature = "metrics")]
pub(crate) use meter::enabled::{GrpcCall, Levels, Meter};

#[cfg(not(feature = "metrics"))]
pub(crate) use meter::disabled::{Levels, Meter};

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
