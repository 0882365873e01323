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
    /// Always 0: the padding, made a field so that it is written with its neighbours.
    spare: u8,
}

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    CircuitOpen,
    /// `CircuitOpen` whose hint is an instant: `data` and `retry_after` hold the two
    /// halves of a [`Stamp`], and the time left is worked out when asked.
    CircuitOpenUntil,
    CircuitForcedOpen,
    HalfOpenSaturated,
    AttemptTimeout,
    DeadlineExceeded,
    BulkheadFull,
    QueueTimeout,
    RateLimited,
    Throttled,
    ConcurrencyLimited,
    TooManyKeys,
}

/// Whole milliseconds, rounded up, saturating below `NONE` (about 49 days).
const fn millis(d: Duration) -> u32 {
    let nanos = d.as_nanos();
    let ms = nanos / 1_000_000 + !nanos.is_multiple_of(1_000_000) as u128;
    if ms >= NONE as u128 {
        NONE - 1
    } else {
        ms as u32
    }
}

/// Why a call was refused.
///
/// ```
/// use seawall::Reason;
/// assert_ne!(Reason::CircuitOpen, Reason::CircuitForcedOpen);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The circuit breaker is open after too many failures or slow calls.
    CircuitOpen,
    /// The circuit breaker was forced open through its handle.
    CircuitForcedOpen,
    /// The circuit breaker is half-open and all its probe slots are taken.
    HalfOpenSaturated,
    /// One attempt took longer than its attempt timeout.
    AttemptTimeout {
        /// The attempt timeout that was exceeded.
        after: Duration,
    },
    /// The call's deadline passed (or had passed before the call started).
    DeadlineExceeded,
    /// A bulkhead had all permits taken and no room (or no wait) in its queue.
    BulkheadFull {
        /// The bulkhead's limit at the time.
        limit: u32,
    },
    /// A call queued at a bulkhead for its maximum wait without getting a permit.
    QueueTimeout {
        /// The maximum wait that ran out.
        after: Duration,
    },
    /// A rate limiter had no permit now (or within the allowed wait).
    RateLimited,
    /// A client-side throttle rejected the call locally (the backend refuses too much).
    Throttled,
    /// An adaptive concurrency limiter was at its current limit.
    ConcurrencyLimited {
        /// The adaptive limit at the time.
        limit: u32,
    },
    /// A keyed layer held its maximum of live keys, all busy, so a new key got no state.
    TooManyKeys {
        /// The cap on live keys.
        max_keys: u32,
    },
}

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

// A new reason must get the next kind and raise `KINDS` (the metric handles are an array).
const _: () = assert!(Reason::TooManyKeys { max_keys: 0 }.kind() + 1 == Reason::KINDS);

impl Reason {
    /// How many kinds of reason there are (the variants, whatever their fields). The
    /// last kind must be `KINDS - 1`: checked when compiling, just below.
    pub(crate) const KINDS: usize = 11;

    /// This reason's kind as a number below [`KINDS`](Self::KINDS).
    pub(crate) const fn kind(self) -> usize {
        match self {
            Reason::CircuitOpen => 0,
            Reason::CircuitForcedOpen => 1,
            Reason::HalfOpenSaturated => 2,
            Reason::AttemptTimeout { .. } => 3,
            Reason::DeadlineExceeded => 4,
            Reason::BulkheadFull { .. } => 5,
            Reason::QueueTimeout { .. } => 6,
            Reason::RateLimited => 7,
            Reason::Throttled => 8,
            Reason::ConcurrencyLimited { .. } => 9,
            Reason::TooManyKeys { .. } => 10,
        }
    }

    /// The reason's name in `snake_case`, as used in metrics and events.
    ///
    /// ```
    /// use seawall::Reason;
    /// assert_eq!(Reason::CircuitOpen.as_str(), "circuit_open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::CircuitOpen => "circuit_open",
            Reason::CircuitForcedOpen => "circuit_forced_open",
            Reason::HalfOpenSaturated => "half_open_saturated",
            Reason::AttemptTimeout { .. } => "attempt_timeout",
            Reason::DeadlineExceeded => "deadline_exceeded",
            Reason::BulkheadFull { .. } => "bulkhead_full",
            Reason::QueueTimeout { .. } => "queue_timeout",
            Reason::RateLimited => "rate_limited",
            Reason::Throttled => "throttled",
            Reason::ConcurrencyLimited { .. } => "concurrency_limited",
            Reason::TooManyKeys { .. } => "too_many_keys",
        }
    }

    /// Whether the layer refused before the call ran (an open breaker, a full bulkhead, a
    /// rate limit): trying again helps once the refusal is over. Not a refusal: an
    /// attempt that ran out of time, and a call whose deadline passed.
    ///
    /// ```
    /// use seawall::Reason;
    /// use std::time::Duration;
    /// assert!(Reason::CircuitOpen.is_refusal());
    /// assert!(!Reason::AttemptTimeout { after: Duration::from_secs(1) }.is_refusal());
    /// ```
    pub const fn is_refusal(self) -> bool {
        match self {
            Reason::AttemptTimeout { .. } | Reason::DeadlineExceeded => false,
            Reason::CircuitOpen
            | Reason::CircuitForcedOpen
            | Reason::HalfOpenSaturated
            | Reason::BulkheadFull { .. }
            | Reason::QueueTimeout { .. }
            | Reason::RateLimited
            | Reason::Throttled
            | Reason::ConcurrencyLimited { .. }
            | Reason::TooManyKeys { .. } => true,
        }
    }

    /// The kind of layer that gives this reason.
    ///
    /// ```
    /// use seawall::{Reason, RejectedBy};
    /// assert_eq!(Reason::HalfOpenSaturated.layer(), RejectedBy::CircuitBreaker);
    /// ```
    pub const fn layer(self) -> RejectedBy {
        match self {
            Reason::CircuitOpen | Reason::CircuitForcedOpen | Reason::HalfOpenSaturated => {
                RejectedBy::CircuitBreaker
            }
            Reason::AttemptTimeout { .. } => RejectedBy::AttemptTimeout,
            Reason::DeadlineExceeded => RejectedBy::Deadline,
            Reason::BulkheadFull { .. } | Reason::QueueTimeout { .. } => RejectedBy::Bulkhead,
            Reason::RateLimited => RejectedBy::RateLimiter,
            Reason::Throttled => RejectedBy::Throttle,
            Reason::ConcurrencyLimited { .. } => RejectedBy::AdaptiveLimit,
            Reason::TooManyKeys { .. } => RejectedBy::Keyed,
        }
    }

    fn describe(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::CircuitOpen => f.write_str("circuit breaker is open"),
            Reason::CircuitForcedOpen => f.write_str("circuit breaker is forced open"),
            Reason::HalfOpenSaturated => {
                f.write_str("circuit breaker is half-open and all probe slots are taken")
            }
            Reason::AttemptTimeout { after } => write!(f, "attempt timed out after {after:?}"),
            Reason::DeadlineExceeded => f.write_str("deadline exceeded"),
            Reason::BulkheadFull { limit } => write!(f, "bulkhead full ({limit} concurrent calls)"),
            Reason::QueueTimeout { after } => write!(f, "no bulkhead permit within {after:?}"),
            Reason::RateLimited => f.write_str("rate limited"),
            Reason::Throttled => f.write_str("throttled locally: the backend rejects too much"),
            Reason::ConcurrencyLimited { limit } => {
                write!(f, "adaptive concurrency limit reached ({limit} calls)")
            }
            Reason::TooManyKeys { max_keys } => write!(f, "all {max_keys} keys busy"),
        }
    }
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
        let (kind, data) = match reason {
            Reason::CircuitOpen => (Kind::CircuitOpen, 0),
            Reason::CircuitForcedOpen => (Kind::CircuitForcedOpen, 0),
            Reason::HalfOpenSaturated => (Kind::HalfOpenSaturated, 0),
            Reason::AttemptTimeout { after } => (Kind::AttemptTimeout, millis(after)),
            Reason::DeadlineExceeded => (Kind::DeadlineExceeded, 0),
            Reason::BulkheadFull { limit } => (Kind::BulkheadFull, limit),
            Reason::QueueTimeout { after } => (Kind::QueueTimeout, millis(after)),
            Reason::RateLimited => (Kind::RateLimited, 0),
            Reason::Throttled => (Kind::Throttled, 0),
            Reason::ConcurrencyLimited { limit } => (Kind::ConcurrencyLimited, limit),
            Reason::TooManyKeys { max_keys } => (Kind::TooManyKeys, max_keys),
        };
        let retry_after = match retry_after {
            Some(wait) => millis(wait),
            None => NONE,
        };
        Rejected {
            data,
            retry_after,
            attempt: 0,
            kind,
            spare: 0,
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
            kind: Kind::CircuitOpenUntil,
            spare: 0,
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
        let after = Duration::from_millis(self.data as u64);
        match self.kind {
            Kind::CircuitOpen | Kind::CircuitOpenUntil => Reason::CircuitOpen,
            Kind::CircuitForcedOpen => Reason::CircuitForcedOpen,
            Kind::HalfOpenSaturated => Reason::HalfOpenSaturated,
            Kind::AttemptTimeout => Reason::AttemptTimeout { after },
            Kind::DeadlineExceeded => Reason::DeadlineExceeded,
            Kind::BulkheadFull => Reason::BulkheadFull { limit: self.data },
            Kind::QueueTimeout => Reason::QueueTimeout { after },
            Kind::RateLimited => Reason::RateLimited,
            Kind::Throttled => Reason::Throttled,
            Kind::ConcurrencyLimited => Reason::ConcurrencyLimited { limit: self.data },
            Kind::TooManyKeys => Reason::TooManyKeys {
                max_keys: self.data,
            },
        }
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
        if self.kind == Kind::CircuitOpenUntil {
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

/// An error type that can carry a seawall [`Rejected`]: what every layer asks of the
/// inner service's error. Implemented for every `E: From<Rejected>`, so there is nothing
/// to implement; it exists so that the compiler names the fix when the bound is not met.
///
/// Met by `tower::BoxError`, by [`Error<E>`](Error) for any `E`, and by your own error
/// enum once it has `impl From<Rejected>`. A client whose error you do not own (hyper,
/// tonic) meets it once its error is wrapped under the seawall layers:
///
/// ```
/// use seawall::pipeline::StandardPipeline;
/// use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A client with an error type of its own, which knows nothing of seawall.
/// let client = service_fn(|n: u32| async move { Ok::<u32, std::io::Error>(n) });
/// let mut svc = ServiceBuilder::new()
///     .layer(StandardPipeline::builder().build().unwrap())
///     .map_err(seawall::Error::Service) // the fix the compiler suggests
///     .service(client);
/// assert_eq!(svc.ready().await.unwrap().call(7).await.unwrap(), 7);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a seawall rejection: seawall layers need the inner service's error to implement `From<seawall::Rejected>`",
    label = "this error type cannot carry a `seawall::Rejected`",
    note = "for a client whose error you do not own (hyper, tonic, reqwest), add `.map_err(seawall::Error::Service)` under the seawall layers in the `ServiceBuilder`, or `.map_err(tower::BoxError::from)`",
    note = "for your own error enum, add a variant and `impl From<seawall::Rejected> for {Self}`"
)]
pub trait CarriesRejection: From<Rejected> {}

// Not recommended, so that an unmet bound is reported as this trait, with its message.
#[diagnostic::do_not_recommend]
impl<E: From<Rejected>> CarriesRejection for E {}

/// Finds a [`Rejected`] inside an error value.
///
/// Implemented for [`Rejected`], [`Error`], and `tower::BoxError` (which downcasts and
/// walks the `source()` chain). Implement it for your own error enum so that layers such
/// as retry can read a rejection's hint.
///
/// ```
/// use seawall::{AsRejected, Reason, Rejected};
/// use tower::BoxError;
///
/// let err: BoxError = Rejected::new(Reason::CircuitOpen, None).into();
/// assert_eq!(err.as_rejected().map(|r| r.reason()), Some(Reason::CircuitOpen));
///
/// let other: BoxError = "connection reset".into();
/// assert!(other.as_rejected().is_none());
/// ```
pub trait AsRejected {
    /// The rejection this error is or wraps, if any.
    ///
    /// ```
    /// use seawall::{AsRejected, Reason, Rejected};
    /// let err: tower::BoxError = Rejected::new(Reason::RateLimited, None).into();
    /// assert_eq!(err.as_rejected().map(|r| r.reason()), Some(Reason::RateLimited));
    /// ```
    fn as_rejected(&self) -> Option<&Rejected>;

    /// The rejection this error is or directly holds, mutably, so that a retry layer can
    /// mark it with the attempt number. The default finds none.
    ///
    /// ```
    /// use seawall::{AsRejected, Reason, Rejected};
    /// let mut r = Rejected::new(Reason::CircuitOpen, None);
    /// assert!(r.as_rejected_mut().is_some());
    /// ```
    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        None
    }
}

impl AsRejected for Rejected {
    fn as_rejected(&self) -> Option<&Rejected> {
        Some(self)
    }

    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        Some(self)
    }
}

impl AsRejected for Box<dyn StdError + Send + Sync> {
    fn as_rejected(&self) -> Option<&Rejected> {
        let mut current: Option<&(dyn StdError + 'static)> = Some(self.as_ref());
        while let Some(err) = current {
            if let Some(rejected) = err.downcast_ref::<Rejected>() {
                return Some(rejected);
            }
            current = err.source();
        }
        None
    }

    /// Only a top-level rejection: `source()` gives no mutable access.
    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        self.downcast_mut::<Rejected>()
    }
}

/// A service error or a seawall rejection, for services whose error type you do not own.
///
/// Put `map_err(seawall::Error::Service)` under the seawall layers; the whole stack then
/// returns `seawall::Error<E>`, and one `match` separates the two cases. It is exhaustive
/// on purpose and will stay two cases: every other detail lives in [`Rejected`].
///
/// ```
/// use seawall::{Error, Reason, Rejected};
///
/// fn report(err: Error<std::io::Error>) -> &'static str {
///     match err {
///         Error::Rejected(_) => "refused locally, the dependency was not called",
///         Error::Service(_) => "the dependency failed",
///     }
/// }
/// assert_eq!(report(Rejected::new(Reason::CircuitOpen, None).into()), "refused locally, the dependency was not called");
/// ```
#[derive(Debug)]
pub enum Error<E> {
    /// A seawall layer refused the call.
    Rejected(Rejected),
    /// The inner service returned this error.
    Service(E),
}

impl<E> From<Rejected> for Error<E> {
    fn from(rejected: Rejected) -> Self {
        Error::Rejected(rejected)
    }
}

impl<E> AsRejected for Error<E> {
    fn as_rejected(&self) -> Option<&Rejected> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Service(_) => None,
        }
    }

    fn as_rejected_mut(&mut self) -> Option<&mut Rejected> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Service(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(rejected) => rejected.fmt(f),
            Error::Service(err) => err.fmt(f),
        }
    }
}

impl<E: StdError + 'static> StdError for Error<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Service(err) => Some(err),
        }
    }
}

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
