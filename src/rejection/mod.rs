//! Rejections: the one error every seawall layer returns when it refuses a call.
//!
//! A layer that refuses a call (an open breaker, a full bulkhead, a rate limit, a passed
//! deadline) never runs the inner service; it returns a [`Rejected`] that says which layer
//! refused ([`Rejected::layer`]), why ([`Rejected::reason`]) and, where the layer knows,
//! when trying again makes sense ([`Rejected::retry_after`]).
//!
//! # How it composes
//!
//! seawall layers keep the inner service's error type: a breaker around a service with
//! error `E` also has error `E`, and only asks that `E: From<Rejected>` (the bound is
//! spelled [`CarriesRejection`], so that the compiler says how to meet it). A whole stack of
//! seawall layers therefore has one error type, not `Error<Error<Error<E>>>`. Three ways
//! to meet the bound:
//!
//! * **`tower::BoxError` stacks**: `Box<dyn Error + Send + Sync>` already implements
//!   `From<Rejected>`. Find a rejection with [`AsRejected::as_rejected`], which downcasts
//!   and also looks through the error's `source()` chain (for wrappers such as
//!   `tower::buffer`).
//! * **Your own error enum**: add a variant and `impl From<Rejected> for MyError`.
//! * **A service whose error you do not own** (hyper, tonic): wrap its error in
//!   [`Error`] with `ServiceBuilder::map_err(seawall::Error::Service)` under the seawall
//!   layers; then one `match` tells a rejection from the service's own error.
//!
//! With your own error enum:
//!
//! ```
//! use seawall::{AsRejected, Rejected};
//!
//! #[derive(Debug)]
//! enum ClientError {
//!     Refused(Rejected),
//!     Io(std::io::Error),
//! }
//!
//! impl From<Rejected> for ClientError {
//!     fn from(rejected: Rejected) -> Self {
//!         ClientError::Refused(rejected)
//!     }
//! }
//!
//! // Lets layers such as retry read a rejection's hint.
//! impl AsRejected for ClientError {
//!     fn as_rejected(&self) -> Option<&Rejected> {
//!         match self {
//!             ClientError::Refused(rejected) => Some(rejected),
//!             ClientError::Io(_) => None,
//!         }
//!     }
//! }
//! # let _ = ClientError::Io(std::io::ErrorKind::Other.into());
//! ```
//!
//! With `tower::BoxError`:
//!
//! ```
//! use seawall::{AsRejected, Rejected};
//! use tower::BoxError;
//!
//! fn describe(err: &BoxError) -> String {
//!     match err.as_rejected() {
//!         Some(rejected) => format!("refused by {:?}: {rejected}", rejected.layer()),
//!         None => format!("the service failed: {err}"),
//!     }
//! }
//! # let _ = describe;
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

mod carry;
mod reasons;

pub use carry::{AsRejected, CarriesRejection, Error};

use reasons::{Kind, NONE, millis};
pub use reasons::{Reason, RejectedBy};

use crate::time::{Stamp, ceil_millis};

/// A seawall layer refused the call; the inner service never saw it.
///
/// ```
/// use seawall::{Rejected, RejectedBy};
/// # fn example(rejected: Rejected) {
/// if rejected.layer() == RejectedBy::CircuitBreaker {
///     if let Some(wait) = rejected.retry_after() {
///         println!("breaker open, try again in {wait:?}");
///     }
/// }
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Rejected {
    // Packed into 12 bytes: a rejection travels inside every `Result` a stack returns,
    // so its size is paid on every call, rejected or not. Durations are whole
    // milliseconds, rounded up. The layout is fixed and has no padding, so that a new
    // rejection is written as whole 4-byte words: copying one that was written byte by
    // byte stalls the processor (a load spanning several smaller stores cannot be
    // forwarded from them).
    /// The limit of limit-carrying reasons, or the milliseconds of duration-carrying ones.
    data: u32,
    /// `retry_after` in milliseconds; `NONE`: no hint.
    retry_after: u32,
    /// 0: not stamped.
    attempt: u16,
    kind: Kind,
    /// [`STAMPED`] or 0: the padding, made a field so that it is written with its
    /// neighbours.
    flags: u8,
}

/// A `CircuitOpen` whose hint is an instant: `data` and `retry_after` hold the two
/// halves of a [`Stamp`], and the time left is worked out when asked.
const STAMPED: u8 = 1;

impl Rejected {
    /// A rejection for `reason`, with an optional hint of when to try again.
    ///
    /// Layers build these; users rarely need to, except in tests and fakes.
    ///
    /// ```
    /// use seawall::{Reason, Rejected};
    /// use std::time::Duration;
    /// let r = Rejected::new(Reason::CircuitOpen, Some(Duration::from_secs(3)));
    /// assert_eq!(r.retry_after(), Some(Duration::from_secs(3)));
    /// ```
    pub const fn new(reason: Reason, retry_after: Option<Duration>) -> Self {
        let (kind, data) = reason.split();
        let retry_after = match retry_after {
            Some(wait) => millis(wait),
            None => NONE,
        };
        Rejected {
            data,
            retry_after,
            attempt: 0,
            kind,
            flags: 0,
        }
    }

    /// The rejection of a call to a breaker that is open until `until`: made without
    /// reading the clock, and its [`retry_after`](Self::retry_after) is the time left
    /// when asked.
    #[inline]
    pub(crate) const fn open_until(until: Stamp) -> Self {
        Rejected {
            data: until.0 as u32,
            retry_after: (until.0 >> 32) as u32,
            attempt: 0,
            kind: Reason::CircuitOpen.split().0,
            flags: STAMPED,
        }
    }

    /// Why the call was refused.
    ///
    /// ```
    /// use seawall::{Reason, Rejected};
    /// let r = Rejected::new(Reason::CircuitForcedOpen, None);
    /// assert_eq!(r.reason(), Reason::CircuitForcedOpen);
    /// ```
    pub const fn reason(&self) -> Reason {
        if self.flags == STAMPED {
            return Reason::CircuitOpen; // its `data` is half a stamp
        }
        Reason::join(self.kind, self.data)
    }

    /// Which kind of layer refused the call.
    ///
    /// ```
    /// use seawall::{Reason, Rejected, RejectedBy};
    /// let r = Rejected::new(Reason::CircuitOpen, None);
    /// assert_eq!(r.layer(), RejectedBy::CircuitBreaker);
    /// ```
    pub const fn layer(&self) -> RejectedBy {
        self.reason().layer()
    }

    /// How long the refusal is expected to last, when the layer knows (an open breaker
    /// knows how long it stays open). `None` means "unknown", not "now". Kept in whole
    /// milliseconds, rounded up (like the durations in [`Reason`]), up to about 49 days.
    ///
    /// An open circuit breaker's rejection records when the open period ends, not a
    /// duration, so that rejecting reads no clock: asking it reads tokio's clock and
    /// answers the time left from now (zero once it has passed).
    ///
    /// ```
    /// use seawall::{Reason, Rejected};
    /// assert_eq!(Rejected::new(Reason::CircuitForcedOpen, None).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        if self.flags == STAMPED {
            let until = Stamp(i64::from(self.retry_after) << 32 | i64::from(self.data));
            let left = until
                .instant()
                .saturating_duration_since(tokio::time::Instant::now());
            return Some(Duration::from_millis(ceil_millis(left)));
        }
        match self.retry_after {
            NONE => None,
            ms => Some(Duration::from_millis(ms as u64)),
        }
    }

    /// On which attempt of a retried call the refusal came, when a retry layer outside
    /// the refusing layer returned it (1 is the first attempt). `None` without retry.
    ///
    /// ```
    /// use seawall::{Reason, Rejected};
    /// let r = Rejected::new(Reason::CircuitOpen, None);
    /// assert_eq!(r.attempt(), None);
    /// assert_eq!(r.with_attempt(3).attempt(), Some(3));
    /// ```
    pub const fn attempt(&self) -> Option<u32> {
        match self.attempt {
            0 => None,
            n => Some(n as u32),
        }
    }

    /// This rejection, marked as the refusal of attempt number `attempt`.
    ///
    /// ```
    /// use seawall::{Reason, Rejected};
    /// let r = Rejected::new(Reason::CircuitOpen, None).with_attempt(2);
    /// assert_eq!(r.attempt(), Some(2));
    /// ```
    pub const fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = if attempt > u16::MAX as u32 {
            u16::MAX
        } else {
            attempt as u16
        };
        self
    }

    pub(crate) fn set_attempt(&mut self, attempt: u32) {
        *self = self.with_attempt(attempt);
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("reason", &self.reason())
            .field("retry_after", &self.retry_after())
            .field("attempt", &self.attempt())
            .finish()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason().describe(f)?;
        if let Some(wait) = self.retry_after() {
            write!(f, "; retry after {wait:?}")?;
        }
        if let Some(attempt) = self.attempt() {
            write!(f, " (attempt {attempt})")?;
        }
        Ok(())
    }
}

impl StdError for Rejected {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_and_hint_round_trips_through_the_packed_form() {
        let d = Duration::from_millis(1_234_567);
        let reasons = [
            Reason::CircuitOpen,
            Reason::CircuitForcedOpen,
            Reason::HalfOpenSaturated,
            Reason::AttemptTimeout { after: d },
            Reason::DeadlineExceeded,
            Reason::BulkheadFull { limit: 7 },
            Reason::QueueTimeout { after: d },
            Reason::RateLimited,
            Reason::Throttled,
            Reason::ConcurrencyLimited { limit: 9 },
            Reason::TooManyKeys { max_keys: u32::MAX },
        ];
        for reason in reasons {
            for hint in [None, Some(Duration::ZERO), Some(d)] {
                let r = Rejected::new(reason, hint).with_attempt(3);
                assert_eq!(
                    (r.reason(), r.retry_after(), r.attempt()),
                    (reason, hint, Some(3))
                );
            }
        }
    }

    #[test]
    fn durations_are_kept_in_whole_milliseconds_rounded_up() {
        let r = Rejected::new(Reason::CircuitOpen, Some(Duration::from_micros(1500)));
        assert_eq!(r.retry_after(), Some(Duration::from_millis(2)));
        let huge = Rejected::new(Reason::CircuitOpen, Some(Duration::MAX));
        assert!(huge.retry_after().unwrap() > Duration::from_secs(49 * 86_400));
    }

    #[test]
    fn a_rejection_stays_small_enough_to_travel_in_every_result() {
        assert!(size_of::<Rejected>() <= 12);
        assert_eq!(size_of::<Error<()>>(), size_of::<Rejected>());
    }
}
