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
        }
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
    /// event; the old limit stays.
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
        // Each layer's changes are logged under its own target.
        macro_rules! log {
            ($level:ident, $($rest:tt)*) => {
                if self.layer == "deadline" {
                    tracing::$level!(target: "seawall::deadline", $($rest)*);
                } else {
                    tracing::$level!(target: "seawall::timeout", $($rest)*);
                }
            };
        }
        if let Err(error) = check(self.layer, self.field, limit) {
            log!(error, name = &*self.name, %error, "time limit change refused; limit kept");
            return Err(error);
        }
        let from = self.limit.0.swap(limit.as_nanos() as u64, Relaxed);
        log!(
            info,
            name = &*self.name,
            layer = self.layer,
            from_ms = from / 1_000_000,
            to_ms = limit.as_millis() as u64,
            "time limit changed"
        );
        Ok(())
    }
}
