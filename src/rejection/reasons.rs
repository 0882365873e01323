//! Every reason a layer refuses a call, and every kind of layer that refuses, each in one
//! entry: its name in metrics, whether it is a refusal, which layer gives it, and how it
//! reads. A new reason is one line here; nothing else in the crate changes.

use std::fmt;
use std::time::Duration;

/// Whole milliseconds, rounded up, saturating below [`NONE`] (about 49 days).
pub(super) const fn millis(d: Duration) -> u32 {
    let nanos = d.as_nanos();
    let ms = nanos / 1_000_000 + !nanos.is_multiple_of(1_000_000) as u128;
    if ms >= NONE as u128 {
        NONE - 1
    } else {
        ms as u32
    }
}

/// The stored "none" of a 32-bit millisecond field.
pub(super) const NONE: u32 = u32::MAX;

/// How a reason's one field is kept in the rejection's 32 bits.
macro_rules! encode {
    (Duration, $value:expr) => {
        millis($value)
    };
    (u32, $value:expr) => {
        $value
    };
}

macro_rules! decode {
    (Duration, $data:expr) => {
        Duration::from_millis($data as u64)
    };
    (u32, $data:expr) => {
        $data
    };
}

macro_rules! refusal {
    (refused) => {
        true
    };
    (ran) => {
        false
    };
}

/// The table: `Name { field } => layer, refused | ran, "metric_label", "description"`.
macro_rules! reasons {
    ($(
        $(#[$doc:meta])*
        $name:ident $({ $(#[$field_doc:meta])* $field:ident : $ty:ident })?
            => $layer:ident, $refusal:ident, $label:literal, $describe:literal;
    )*) => {
        /// Why a call was refused.
        ///
        /// ```
        /// use seawall::Reason;
        /// assert_ne!(Reason::CircuitOpen, Reason::CircuitForcedOpen);
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $(
                $(#[$doc])*
                $name $({ $(#[$field_doc])* $field: $ty })?,
            )*
        }

        /// A reason without its field, as the rejection stores it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(super) enum Kind {
            $($name,)*
        }

        impl Reason {
            /// How many kinds of reason there are (the variants, whatever their fields).
            pub(crate) const KINDS: usize = [$(Kind::$name),*].len();

            /// This reason's kind as a number below [`KINDS`](Self::KINDS) (a metric slot).
            #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
            pub(crate) const fn kind(self) -> usize {
                self.split().0 as usize
            }

            /// The kind and the field's 32 bits.
            pub(super) const fn split(self) -> (Kind, u32) {
                match self {
                    $(Reason::$name $({ $field })? => (Kind::$name, 0 $(| encode!($ty, $field))?),)*
                }
            }

            /// The reason of `kind` whose field is kept as `data`.
            pub(super) const fn join(kind: Kind, data: u32) -> Reason {
                let _ = data;
                match kind {
                    $(Kind::$name => Reason::$name $({ $field: decode!($ty, data) })?,)*
                }
            }

            /// The reason's name in `snake_case`, as used in metrics and events.
            ///
            /// ```
            /// use seawall::Reason;
            /// assert_eq!(Reason::CircuitOpen.as_str(), "circuit_open");
            /// ```
            pub const fn as_str(self) -> &'static str {
                match self.split().0 {
                    $(Kind::$name => $label,)*
                }
            }

            /// Whether the layer refused before the call ran (an open breaker, a full
            /// bulkhead, a rate limit): trying again helps once the refusal is over. Not
            /// a refusal: an attempt that ran out of time, and a call whose deadline
            /// passed.
            ///
            /// ```
            /// use seawall::Reason;
            /// use std::time::Duration;
            /// assert!(Reason::CircuitOpen.is_refusal());
            /// assert!(!Reason::AttemptTimeout { after: Duration::from_secs(1) }.is_refusal());
            /// ```
            pub const fn is_refusal(self) -> bool {
                match self.split().0 {
                    $(Kind::$name => refusal!($refusal),)*
                }
            }

            /// The kind of layer that gives this reason.
            ///
            /// ```
            /// use seawall::{Reason, RejectedBy};
            /// assert_eq!(Reason::HalfOpenSaturated.layer(), RejectedBy::CircuitBreaker);
            /// ```
            pub const fn layer(self) -> RejectedBy {
                match self.split().0 {
                    $(Kind::$name => RejectedBy::$layer,)*
                }
            }

            pub(super) fn describe(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Reason::$name $({ $field })? => write!(f, $describe),)*
                }
            }
        }
    };
}

reasons! {
    /// The circuit breaker is open after too many failures or slow calls.
    CircuitOpen => CircuitBreaker, refused, "circuit_open", "circuit breaker is open";
    /// The circuit breaker was forced open through its handle.
    CircuitForcedOpen
        => CircuitBreaker, refused, "circuit_forced_open", "circuit breaker is forced open";
    /// The circuit breaker is half-open and all its probe slots are taken.
    HalfOpenSaturated => CircuitBreaker, refused, "half_open_saturated",
        "circuit breaker is half-open and all probe slots are taken";
    /// One attempt took longer than its attempt timeout.
    AttemptTimeout {
        /// The attempt timeout that was exceeded.
        after: Duration
    } => AttemptTimeout, ran, "attempt_timeout", "attempt timed out after {after:?}";
    /// The call's deadline passed (or had passed before the call started).
    DeadlineExceeded => Deadline, ran, "deadline_exceeded", "deadline exceeded";
    /// A bulkhead had all permits taken and no room (or no wait) in its queue.
    BulkheadFull {
        /// The bulkhead's limit at the time.
        limit: u32
    } => Bulkhead, refused, "bulkhead_full", "bulkhead full ({limit} concurrent calls)";
    /// A call queued at a bulkhead for its maximum wait without getting a permit.
    QueueTimeout {
        /// The maximum wait that ran out.
        after: Duration
    } => Bulkhead, refused, "queue_timeout", "no bulkhead permit within {after:?}";
    /// A rate limiter had no permit now (or within the allowed wait).
    RateLimited => RateLimiter, refused, "rate_limited", "rate limited";
    /// A client-side throttle rejected the call locally (the backend refuses too much).
    Throttled => Throttle, refused, "throttled",
        "throttled locally: the backend rejects too much";
    /// An adaptive concurrency limiter was at its current limit.
    ConcurrencyLimited {
        /// The adaptive limit at the time.
        limit: u32
    } => AdaptiveLimit, refused, "concurrency_limited",
        "adaptive concurrency limit reached ({limit} calls)";
    /// A keyed layer held its maximum of live keys, all busy, so a new key got no state.
    TooManyKeys {
        /// The cap on live keys.
        max_keys: u32
    } => Keyed, refused, "too_many_keys", "all {max_keys} keys busy";
}

// A kind is stored in one byte.
const _: () = assert!(Reason::KINDS <= 256);

/// Which kind of layer refused a call.
///
/// ```
/// use seawall::{Reason, RejectedBy};
/// assert_eq!(Reason::CircuitOpen.layer(), RejectedBy::CircuitBreaker);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectedBy {
    /// A [`CircuitBreaker`](crate::circuit_breaker::CircuitBreaker).
    CircuitBreaker,
    /// An [`AttemptTimeout`](crate::timeout::AttemptTimeout).
    AttemptTimeout,
    /// A [`Deadline`](crate::deadline::Deadline) layer.
    Deadline,
    /// A [`Bulkhead`](crate::bulkhead::Bulkhead).
    Bulkhead,
    /// A [`RateLimit`](crate::rate_limit::RateLimit).
    RateLimiter,
    /// A [`Throttle`](crate::throttle::Throttle).
    Throttle,
    /// An [`AdaptiveLimit`](crate::adaptive::AdaptiveLimit).
    AdaptiveLimit,
    /// A [`Keyed`](crate::keyed::Keyed) partition map.
    Keyed,
}

impl RejectedBy {
    /// The layer kind's name in `snake_case`, as used in metrics.
    ///
    /// ```
    /// use seawall::RejectedBy;
    /// assert_eq!(RejectedBy::CircuitBreaker.as_str(), "circuit_breaker");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectedBy::CircuitBreaker => "circuit_breaker",
            RejectedBy::AttemptTimeout => "attempt_timeout",
            RejectedBy::Deadline => "deadline",
            RejectedBy::Bulkhead => "bulkhead",
            RejectedBy::RateLimiter => "rate_limiter",
            RejectedBy::Throttle => "throttle",
            RejectedBy::AdaptiveLimit => "adaptive_limit",
            RejectedBy::Keyed => "keyed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_splits_and_joins_back_and_has_its_own_kind_and_label() {
        let all = [
            Reason::CircuitOpen,
            Reason::CircuitForcedOpen,
            Reason::HalfOpenSaturated,
            Reason::AttemptTimeout {
                after: Duration::from_millis(1500),
            },
            Reason::DeadlineExceeded,
            Reason::BulkheadFull { limit: 7 },
            Reason::QueueTimeout {
                after: Duration::from_millis(20),
            },
            Reason::RateLimited,
            Reason::Throttled,
            Reason::ConcurrencyLimited { limit: 9 },
            Reason::TooManyKeys { max_keys: 3 },
        ];
        assert_eq!(all.len(), Reason::KINDS);
        for (i, reason) in all.iter().enumerate() {
            let (kind, data) = reason.split();
            assert_eq!(Reason::join(kind, data), *reason);
            assert_eq!(reason.kind(), i);
        }
        let labels: std::collections::BTreeSet<_> = all.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), all.len());
    }
}
