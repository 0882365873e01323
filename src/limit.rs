//! Time limits shared by a layer and every service it made, and the handle that changes
//! them while calls run: used by the attempt timeout and the deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::config::{ConfigError, Longest, check_duration};

pub(crate) const MAX_LIMIT: Duration = Longest::Year.duration();

/// A duration shared by a layer and every service it made: one relaxed load per call.
#[derive(Clone, Debug)]
pub(crate) struct SharedLimit(Arc<AtomicU64>);

impl SharedLimit {
    pub(crate) fn new(limit: Duration) -> Self {
        SharedLimit(Arc::new(AtomicU64::new(limit.as_nanos() as u64)))
    }

    #[inline]
    pub(crate) fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Relaxed))
    }
}

/// Checks a time limit: within `(0s, 365 days]`.
pub(crate) fn check(layer: &str, field: &str, limit: Duration) -> Result<(), ConfigError> {
    check_duration(field, limit, false, Longest::Year).map_err(|err| err.within(layer))
}

/// Reads and replaces the time limit of an [`AttemptTimeoutLayer`](crate::timeout::AttemptTimeoutLayer)
/// or a [`DeadlineLayer`](crate::deadline::DeadlineLayer) and of every service it made.
/// Calls already running keep the limit they started with.
///
/// ```
/// use seawall::timeout::AttemptTimeoutLayer;
/// use std::time::Duration;
///
/// let layer = AttemptTimeoutLayer::new(Duration::from_secs(2))?;
/// let handle = layer.handle();
/// handle.set(Duration::from_secs(5))?;
/// assert_eq!(handle.get(), Duration::from_secs(5));
/// assert!(handle.set(Duration::ZERO).is_err(), "refused; 5 s kept");
/// assert_eq!(handle.get(), Duration::from_secs(5));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TimeLimitHandle {
    limit: SharedLimit,
    layer: &'static str,
    field: &'static str,
    name: Arc<str>,
    bound: Option<Bound>,
}

/// A rule between two limits that a pipeline keeps while they change: an attempt
/// timeout at most the total timeout (and at most half a time-based breaker window), a
/// total timeout at least the attempt timeout.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    /// The other limit of the pair.
    pub(crate) other: SharedLimit,
    /// Whether this limit stays at most the other (`false`: at least it).
    pub(crate) at_most: bool,
    /// How this limit and the other are named in the pipeline's errors.
    pub(crate) this_field: &'static str,
    pub(crate) other_field: &'static str,
    /// A further ceiling on this limit and why (half the breaker's time window).
    pub(crate) ceiling: Option<(Duration, &'static str)>,
    /// The pipeline's name, which prefixes the errors.
    pub(crate) within: Arc<str>,
    /// Serializes changes of the pair, so that two changes cannot each pass the check
    /// and break it together.
    pub(crate) lock: Arc<std::sync::Mutex<()>>,
}

impl Bound {
    /// Checks `limit` against the other limit and the ceiling.
    fn check(&self, limit: Duration) -> Result<(), ConfigError> {
        let other = self.other.get();
        let fits = if self.at_most {
            limit <= other
        } else {
            limit >= other
        };
        let err = |allowed: String| {
            let shown = format!("{limit:?}");
            Err(ConfigError::new(self.this_field, shown, allowed).within(&self.within))
        };
        if !fits {
            let (o, f) = (other, self.other_field);
            return err(if self.at_most {
                format!("(0s, {f} = {o:?}]")
            } else {
                format!("[{f} = {o:?}, 365 days]")
            });
        }
        match self.ceiling {
            Some((most, why)) if limit > most => err(format!("(0s, {why} = {most:?}]")),
            _ => Ok(()),
        }
    }
}

impl TimeLimitHandle {
    pub(crate) fn new(
        limit: SharedLimit,
        layer: &'static str,
        field: &'static str,
        name: Arc<str>,
    ) -> Self {
        TimeLimitHandle {
            limit,
            layer,
            field,
            name,
            bound: None,
        }
    }

    /// This handle, keeping `bound` on every change.
    pub(crate) fn bounded(mut self, bound: Bound) -> Self {
        self.bound = Some(bound);
        self
    }

    /// The shared limit this handle changes.
    pub(crate) fn shared(&self) -> SharedLimit {
        self.limit.clone()
    }

    /// The limit in force.
    ///
    /// ```
    /// # use seawall::deadline::DeadlineLayer;
    /// # use std::time::Duration;
    /// let handle = DeadlineLayer::new(Duration::from_secs(30))?.handle();
    /// assert_eq!(handle.get(), Duration::from_secs(30));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn get(&self) -> Duration {
        self.limit.get()
    }

    /// Replaces the limit for calls that start from now on.
    ///
    /// # Errors
    ///
    /// A limit outside `(0s, 365 days]` is refused with a [`ConfigError`] and an error
    /// event; the old limit stays. A pipeline's handles also keep its cross-checks: the
    /// attempt timeout at most the total timeout (and at most half a time-based breaker
    /// window), the total timeout at least the attempt timeout.
    ///
    /// ```
    /// # use seawall::deadline::DeadlineLayer;
    /// # use std::time::Duration;
    /// let handle = DeadlineLayer::new(Duration::from_secs(30))?.handle();
    /// let err = handle.set(Duration::ZERO).unwrap_err();
    /// assert_eq!(err.to_string(), "deadline.budget: 0ns is outside (0s, 365 days]");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn set(&self, limit: Duration) -> Result<(), ConfigError> {
        // Each layer's changes are told under its own name.
        macro_rules! log {
            ($level:ident, $event:literal, $($rest:tt)*) => {
                if self.layer == "deadline" {
                    crate::telemetry::event!($level, "deadline", &*self.name, $event, $($rest)*);
                } else {
                    crate::telemetry::event!($level, "timeout", &*self.name, $event, $($rest)*);
                }
            };
        }
        let _pair = self.bound.as_ref().map(|b| {
            b.lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        });
        let checked = check(self.layer, self.field, limit)
            .and_then(|()| self.bound.as_ref().map_or(Ok(()), |b| b.check(limit)));
        if let Err(error) = checked {
            log!(error, "limit_refused", %error, "time limit change refused; limit kept");
            return Err(error);
        }
        let from = self.limit.0.swap(limit.as_nanos() as u64, Relaxed);
        log!(
            info,
            "limit_changed",
            from_ms = from / 1_000_000,
            to_ms = limit.as_millis() as u64,
            "time limit changed"
        );
        Ok(())
    }
}
