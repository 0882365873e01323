//! The decision after each attempt: return the result, or retry after a delay, and why
//! not; and the settings and state that every service of one layer shares.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::{Delays, Progress};
use super::budget::{Budget, Withdrawal};
use super::config::Settings;
use super::handle::Limits;
use super::hint::{Hint, RetryHint};
use crate::classify::{Classify, Outcome};
use crate::context;
use crate::random::Draws;
use crate::telemetry::{Meter, error_type};

/// The settings and state every service of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The layer's name, in events.
    pub(crate) name: Arc<str>,
    /// What the handle changes while calls run.
    pub(crate) limits: Limits,
    pub(crate) delays: Delays,
    pub(crate) budget: Budget,
    /// Retries taken from the budget and not yet sent (waiting out their backoff).
    pub(crate) waiting: std::sync::atomic::AtomicU64,
    /// A retry that succeeds gives its cost back to the budget.
    pub(crate) refund_successes: bool,
    /// Local refusals are retried after their hint, rather than returned at once.
    pub(crate) retry_refusals: bool,
    /// A timed-out attempt's time counts toward the backoff that follows it.
    pub(crate) backoff_includes_timeout: bool,
    pub(crate) draws: Draws,
    pub(crate) meter: Meter,
    /// Each call gets a span, each attempt a child span.
    pub(crate) spans: bool,
    /// gRFC A96's per-call histograms, when asked for.
    #[cfg(feature = "metrics")]
    pub(crate) grpc: Option<crate::telemetry::GrpcCall>,
    /// What keeps the budget's reserve at its fleet share (feature `redis`).
    #[cfg(feature = "redis")]
    pub(crate) fleet_share: std::sync::OnceLock<Arc<super::fleet::ReserveShare>>,
}

impl crate::budget::AttemptBudget for Shared {
    /// A hedge takes a retry from this budget (and gives nothing back).
    fn try_spend(&self) -> bool {
        self.budget.try_withdraw().is_some()
    }
}

impl Shared {
    /// Whether calls measure the time between their attempts (for gRPC's
    /// `retry_delay`); without it no clock is read for that.
    #[inline]
    pub(crate) fn measures_waits(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.grpc.is_some();
        #[cfg(not(feature = "metrics"))]
        return false;
    }

    /// The shared state of a new layer, from settings that passed validation.
    pub(crate) fn new(settings: &Settings) -> Self {
        let name: Arc<str> = Arc::from(settings.name.as_str());
        Shared {
            limits: Limits::new(settings),
            delays: settings.delays(),
            budget: settings.budget(),
            waiting: std::sync::atomic::AtomicU64::new(0),
            refund_successes: settings.refund_successes,
            retry_refusals: settings.retry_refusals,
            backoff_includes_timeout: settings.backoff_includes_timeout,
            draws: Draws::new(settings.seed.unwrap_or_else(rand::random)),
            meter: Meter::new("retry", &name),
            spans: settings.spans,
            #[cfg(feature = "metrics")]
            grpc: (settings.grpc.as_ref())
                .map(|(method, target)| crate::telemetry::GrpcCall::retries(method, target)),
            #[cfg(feature = "redis")]
            fleet_share: std::sync::OnceLock::new(),
            name,
        }
    }
}

/// The limits one call started with: the handle's changes to them apply to calls that
/// start after the change.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    pub(crate) max_attempts: u32,
    /// When the call's `max_elapsed` runs out: no retry is planned whose delay ends later.
    pub(crate) ends: Option<Instant>,
}

impl CallLimits {
    /// The limits in force now: two relaxed loads, and a clock read only when
    /// `max_elapsed` is set.
    #[inline]
    pub(crate) fn now(limits: &Limits) -> Self {
        CallLimits {
            max_attempts: limits.max_attempts(),
            ends: limits
                .max_elapsed()
                .and_then(|max| Instant::now().checked_add(max)),
        }
    }
}

/// What a service and its futures use, shared through a count per thread
/// ([`Homed`](crate::homed::Homed)).
#[derive(Clone, Debug)]
pub(crate) struct Policy<C, H, R> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) classifier: C,
    pub(crate) hints: H,
    pub(crate) replay: R,
    /// A copy of `shared.spans`, read where the call starts.
    pub(crate) spans: bool,
}

/// What to do after an attempt.
pub(crate) enum Next {
    /// Return the result, which the classifier judged so.
    Return(Outcome),
    /// Retry the failure after the delay.
    Retry(Duration, Withdrawal),
}

impl<C, H, R> Policy<C, H, R> {
    /// Decides what follows attempt number `attempts`, which ended with `result`.
    pub(crate) fn after_attempt<Res, E>(
        &self,
        result: &Result<Res, E>,
        attempts: u32,
        replayable: bool,
        progress: &mut Progress,
        limits: CallLimits,
        spent: Option<Withdrawal>,
    ) -> Next
    where
        C: Classify<Res, E>,
        H: RetryHint<Res, E>,
    {
        let shared = &*self.shared;
        let outcome = self.classifier.classify(result);
        shared.budget.on_outcome(outcome);
        if let Some(withdrawal) = spent
            && outcome == Outcome::Success
            && shared.refund_successes
        {
            shared.budget.refund(withdrawal);
        }
        if outcome != Outcome::Failure {
            shared.meter.call(outcome);
            return Next::Return(outcome);
        }
        let give_up = |why: GiveUp| {
            self.not_retrying(attempts, why, error_type(result));
            Next::Return(Outcome::Failure)
        };
        if attempts >= limits.max_attempts {
            return give_up(GiveUp::Attempts);
        }
        if !replayable {
            return give_up(GiveUp::NotReplayable);
        }
        let max_hint = || shared.limits.max_hint();
        let (delay, reason) = match self.hints.hint(result) {
            Hint::Stop => return give_up(GiveUp::HintStop),
            Hint::Refused(Some(wait)) if shared.retry_refusals && wait <= max_hint() => {
                (wait, "refused, retry-after")
            }
            Hint::Refused(Some(_)) if shared.retry_refusals => {
                return give_up(GiveUp::HintTooLong);
            }
            Hint::Refused(_) => return give_up(GiveUp::Refused),
            Hint::After(wait) if wait > max_hint() => return give_up(GiveUp::HintTooLong),
            Hint::After(wait) => (wait, "retry-after hint"),
            Hint::Backoff => {
                let delay = shared
                    .delays
                    .next(attempts, progress, || shared.draws.unit());
                (delay, if result.is_err() { "error" } else { "response" })
            }
            Hint::TimedOut(ran) => {
                let delay = shared
                    .delays
                    .next(attempts, progress, || shared.draws.unit());
                if shared.backoff_includes_timeout {
                    (delay.saturating_sub(ran), "attempt timeout, waited already")
                } else {
                    (delay, "attempt timeout")
                }
            }
        };
        // The delay would end after max_elapsed (or past the end of time).
        if let Some(ends) = limits.ends
            && Instant::now().checked_add(delay).is_none_or(|at| at > ends)
        {
            return give_up(GiveUp::MaxElapsed);
        }
        if starts_too_late(delay) {
            return give_up(GiveUp::Deadline);
        }
        let Some(withdrawal) = shared.budget.try_withdraw() else {
            return give_up(GiveUp::Budget);
        };
        crate::telemetry::event!(
            debug,
            "retry",
            &*shared.name,
            "retrying",
            seawall.attempt = attempts + 1,
            seawall.reason = reason,
            error.type = error_type(result),
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "retrying"
        );
        Next::Retry(delay, withdrawal)
    }

    /// Records that the failure of attempt number `attempts` (of type `error`, as
    /// [`error_type`] names it) is returned, and why.
    pub(crate) fn not_retrying(&self, attempts: u32, why: GiveUp, error: &'static str) {
        crate::telemetry::event!(
            debug,
            "retry",
            &*self.shared.name,
            "not_retrying",
            seawall.attempt = attempts,
            seawall.reason = why.as_str(),
            error.type = error,
            "not retrying"
        );
        self.shared.meter.call(Outcome::Failure);
        self.shared.meter.not_retried(why as usize, why.as_str());
    }
}

/// Why a failed call goes back to its caller without another attempt; the `reason` of
/// the `not retrying` event and of the `seawall.retry.not_retried` metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GiveUp {
    Attempts,
    NotReplayable,
    HintStop,
    HintTooLong,
    Refused,
    MaxElapsed,
    Deadline,
    Budget,
    NotReady,
}

impl GiveUp {
    /// How many kinds there are (each has a metric slot).
    pub(crate) const KINDS: usize = 9;

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            GiveUp::Attempts => "attempts_exhausted",
            GiveUp::NotReplayable => "not_replayable",
            GiveUp::HintStop => "hint_stop",
            GiveUp::HintTooLong => "hint_above_max_hint",
            GiveUp::Refused => "refused_locally",
            GiveUp::MaxElapsed => "max_elapsed",
            GiveUp::Deadline => "deadline",
            GiveUp::Budget => "budget_spent",
            GiveUp::NotReady => "inner_not_ready",
        }
    }
}

const _: () = assert!(GiveUp::NotReady as usize + 1 == GiveUp::KINDS);
const _: () = assert!(GiveUp::KINDS == crate::telemetry::NOT_RETRIED_REASONS);

/// Whether an attempt `delay` from now would start with no time left before the
/// call's deadline.
pub(crate) fn starts_too_late(delay: Duration) -> bool {
    context::remaining().is_some_and(|left| delay >= left)
}
