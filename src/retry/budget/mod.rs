//! Retry budgets: how many retries the whole layer may send, shared by every clone.
//!
//! * [`Window`]: Finagle's budget. Each request deposits a share of a retry, each retry
//!   withdraws one whole retry, and both expire after a time-to-live. When the deposits
//!   are spent, a reserve lets `min_per_sec` retries a second through, at most that many
//!   at once (Finagle keeps `min_per_sec × ttl` ready at once, which one second of an
//!   outage can spend).
//! * [`TokenThrottling`]: gRPC's retry throttling (gRFC A6). A token bucket that failures drain
//!   and successes refill; retries go out only while it is more than half full.
//!
//! Both are a handful of atomics. Service clones report requests in batches (see
//! [`LOCAL_BATCH`]), so the last few requests of a clone reach the budget late; the
//! reserve covers that. Amounts are integers (a retry costs [`RETRY_COST`]
//! units; a request deposits `percent × 10` units, rounded down), so a fractional
//! percentage is never rounded up into extra retries.

use crate::classify::Outcome;

mod reserve;
mod throttle;
mod window;

pub(crate) use throttle::TokenThrottling;
pub(crate) use window::Window;

/// Units one retry costs; a request at 100 % deposits as much.
pub(crate) const RETRY_COST: i64 = 1000;
/// Each service clone counts its requests in a plain integer and adds them to the shared
/// counter this many at a time (and when it is dropped).
pub(crate) const LOCAL_BATCH: u32 = 64;

/// The budget a layer was built with.
#[derive(Debug)]
pub(crate) enum Budget {
    Off,
    Window(Window),
    Throttle(TokenThrottling),
}

/// A retry taken from a budget, given back if it is never sent (or succeeds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Withdrawal(Source);

/// Where a withdrawn retry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Nothing to give back (no budget, or gRPC throttling).
    Free,
    /// The deposits, in the slot of this generation.
    Deposits(u32),
    /// The reserve's bucket, which moved from the first to the second time.
    Reserve(u64, u64),
}

impl Withdrawal {
    /// Whether giving it back changes anything.
    pub(crate) fn is_refundable(&self) -> bool {
        self.0 != Source::Free
    }
}

impl Budget {
    /// Counts `requests` new requests (not retries).
    pub(crate) fn add_requests(&self, requests: u32) {
        if let Budget::Window(window) = self {
            window.deposit(u64::from(requests));
        }
    }

    /// Counts the outcome of one attempt.
    #[inline]
    pub(crate) fn on_outcome(&self, outcome: Outcome) {
        if let Budget::Throttle(throttle) = self {
            throttle.record(outcome);
        }
    }

    /// Takes one retry from the budget, if it has one.
    pub(crate) fn try_withdraw(&self) -> Option<Withdrawal> {
        match self {
            Budget::Off => Some(Withdrawal(Source::Free)),
            Budget::Window(window) => window.try_withdraw().map(Withdrawal),
            Budget::Throttle(throttle) => {
                throttle.allows_retry().then_some(Withdrawal(Source::Free))
            }
        }
    }

    /// Gives the reserve `per_sec` retries a second (a fleet instance's share).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn set_reserve_rate(&self, per_sec: f64) {
        if let Budget::Window(window) = self {
            window.set_reserve_rate(per_sec);
        }
    }

    /// Gives back a retry that was never sent, or that succeeded.
    pub(crate) fn refund(&self, withdrawal: Withdrawal) {
        if let Budget::Window(window) = self {
            window.refund(withdrawal.0);
        }
    }
}
