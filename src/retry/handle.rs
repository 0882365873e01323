//! Reading and changing a retry layer's limits at run time.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use super::config::{Settings, check_max_attempts, check_max_elapsed, check_max_hint};
use super::policy::Shared;
use crate::config::{ConfigError, nanos};

/// The limits a [`RetryHandle`] changes while calls run, shared by every service of one
/// layer. Each is read with one relaxed load: it stands alone, and no other memory is
/// published with it, so a reader needs no ordering beyond the value itself.
#[derive(Debug)]
pub(crate) struct Limits {
    max_attempts: AtomicU32,
    /// In nanoseconds; 0 means no limit (a limit that is set is never zero).
    max_elapsed: AtomicU64,
    /// In nanoseconds.
    max_hint: AtomicU64,
}

impl Limits {
    /// The limits of settings that passed validation.
    pub(crate) fn new(settings: &Settings) -> Self {
        Limits {
            max_attempts: AtomicU32::new(settings.max_attempts),
            max_elapsed: AtomicU64::new(settings.max_elapsed.map_or(0, nanos)),
            max_hint: AtomicU64::new(nanos(settings.max_hint)),
        }
    }

    #[inline]
    pub(crate) fn max_attempts(&self) -> u32 {
        self.max_attempts.load(Relaxed)
    }

    #[inline]
    pub(crate) fn max_elapsed(&self) -> Option<Duration> {
        match self.max_elapsed.load(Relaxed) {
            0 => None,
            limit => Some(Duration::from_nanos(limit)),
        }
    }

    #[inline]
    pub(crate) fn max_hint(&self) -> Duration {
        Duration::from_nanos(self.max_hint.load(Relaxed))
    }
}

/// Reads and changes the limits of one retry layer, for every service it made and every
/// clone of those; clone it freely (it is an `Arc`). Made by
/// [`RetryLayer::handle`](super::RetryLayer::handle).
///
/// Each change is checked like [`Builder::build`](super::Builder::build) checks the
/// setting, with the same error; a refused change keeps the old value. Each change, and
/// each refusal, emits one `tracing` event under the target `seawall::retry`: `retry
/// setting changed` (level info, with the `retry` name, the `setting`, `from` and `to`)
/// or `retry setting change refused; setting kept` (level error, with the `error`).
///
/// ```
/// use seawall::retry::RetryLayer;
/// use std::time::Duration;
///
/// let layer = RetryLayer::builder().max_attempts(3).build()?;
/// let handle = layer.handle();
/// handle.set_max_attempts(1)?; // e.g. while the dependency is known to be down
/// assert_eq!(handle.max_attempts(), 1);
/// handle.set_max_elapsed(Some(Duration::from_secs(2)))?;
/// assert!(handle.set_max_hint(Duration::from_secs(8 * 86_400)).is_err(), "refused; 10 s kept");
/// assert_eq!(handle.max_hint(), Duration::from_secs(10));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RetryHandle {
    shared: Arc<Shared>,
}

impl RetryHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        RetryHandle { shared }
    }

    /// The layer's name, as given to the builder and used in events and metrics.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let layer = RetryLayer::builder().name("payments").build()?;
    /// assert_eq!(layer.handle().name(), "payments");
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Retries taken from the budget and not sent yet: calls waiting out a backoff or for
    /// the service to be ready again. Zero
    /// once no call is between attempts: a call dropped while it waits gives its retry
    /// back to the budget at once. (Retries with nothing to give back — no budget, or
    /// gRPC's throttling — are not counted.)
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// assert_eq!(RetryLayer::builder().build()?.handle().retries_waiting(), 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn retries_waiting(&self) -> u64 {
        self.shared
            .waiting
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Attempts in all, the first call included, for calls that start now.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// assert_eq!(RetryLayer::builder().build()?.handle().max_attempts(), 3);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_attempts(&self) -> u32 {
        self.shared.limits.max_attempts()
    }

    /// Replaces [`max_attempts`](super::Builder::max_attempts) for calls that start from
    /// now on; a call already running keeps the number it started with. 1 turns retries
    /// off.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `attempts` is outside `1..=100`; the old value stays.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// let handle = RetryLayer::builder().build()?.handle();
    /// handle.set_max_attempts(5)?;
    /// let err = handle.set_max_attempts(0).unwrap_err();
    /// assert_eq!(err.to_string(), "retry.max_attempts: 0 is outside 1..=100");
    /// assert_eq!(handle.max_attempts(), 5);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn set_max_attempts(&self, attempts: u32) -> Result<(), ConfigError> {
        self.change("max_attempts", check_max_attempts(attempts), || {
            let from = self.shared.limits.max_attempts.swap(attempts, Relaxed);
            (from, attempts)
        })
    }

    /// The limit on a call's whole time, attempts and sleeps, for calls that start now;
    /// `None` is no limit.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// assert_eq!(RetryLayer::builder().build()?.handle().max_elapsed(), None);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.shared.limits.max_elapsed()
    }

    /// Replaces [`max_elapsed`](super::Builder::max_elapsed) for calls that start from
    /// now on (`None` lifts the limit); a call already running keeps the limit it started
    /// with.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if the limit is outside `(0s, 7 days]`; the old value stays.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let handle = RetryLayer::builder().build()?.handle();
    /// handle.set_max_elapsed(Some(Duration::from_secs(3)))?;
    /// assert_eq!(handle.max_elapsed(), Some(Duration::from_secs(3)));
    /// let err = handle.set_max_elapsed(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err.field(), "retry.max_elapsed");
    /// handle.set_max_elapsed(None)?;
    /// assert_eq!(handle.max_elapsed(), None);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn set_max_elapsed(&self, limit: Option<Duration>) -> Result<(), ConfigError> {
        let checked = limit.map_or(Ok(()), check_max_elapsed);
        self.change("max_elapsed", checked, || {
            let to = limit.map_or(0, nanos);
            let from = self.shared.limits.max_elapsed.swap(to, Relaxed);
            let shown = |nanos| Shown((nanos > 0).then(|| Duration::from_nanos(nanos)));
            (shown(from), shown(to))
        })
    }

    /// The longest hint honoured, at the next decision.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// assert_eq!(RetryLayer::builder().build()?.handle().max_hint(), Duration::from_secs(10));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn max_hint(&self) -> Duration {
        self.shared.limits.max_hint()
    }

    /// Replaces [`max_hint`](super::Builder::max_hint) for every retry decided from now
    /// on, those of calls already running included (each hint is judged when its attempt
    /// ends).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if the limit is outside `[0s, 7 days]`; the old value stays.
    ///
    /// ```
    /// # use seawall::retry::RetryLayer;
    /// # use std::time::Duration;
    /// let handle = RetryLayer::builder().build()?.handle();
    /// handle.set_max_hint(Duration::from_secs(60))?; // honour a breaker's 60 s
    /// assert_eq!(handle.max_hint(), Duration::from_secs(60));
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn set_max_hint(&self, limit: Duration) -> Result<(), ConfigError> {
        self.change("max_hint", check_max_hint(limit), || {
            let from = self.shared.limits.max_hint.swap(nanos(limit), Relaxed);
            (Duration::from_nanos(from), limit)
        })
    }

    /// Applies a checked change and logs it, or logs the refusal.
    fn change<T: fmt::Debug>(
        &self,
        setting: &'static str,
        checked: Result<(), ConfigError>,
        apply: impl FnOnce() -> (T, T),
    ) -> Result<(), ConfigError> {
        let name = &*self.shared.name;
        if let Err(error) = checked.map_err(|e| e.within("retry")) {
            crate::telemetry::event!(
                error,
                "retry",
                name,
                "setting_refused",
                setting,
                %error,
                "retry setting change refused; setting kept"
            );
            return Err(error);
        }
        let (from, to) = apply();
        crate::telemetry::event!(
            info,
            "retry",
            name,
            "setting_changed",
            setting,
            ?from,
            ?to,
            "retry setting changed"
        );
        Ok(())
    }
}

/// An optional limit as events show it: the duration, or `none`.
struct Shown(Option<Duration>);

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(limit) => write!(f, "{limit:?}"),
            None => f.write_str("none"),
        }
    }
}
