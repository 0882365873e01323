//! Guarding code that is not a tower service: ask the breaker, run, report.

use std::fmt;

use super::Link;
use super::engine::Engine;
use super::word::Admission;
use crate::classify::Outcome;

/// Leave for one call made outside tower (a synchronous client, a stream, a driver
/// with its own API), from [`CircuitBreakerHandle::try_acquire`](super::CircuitBreakerHandle::try_acquire).
/// It borrows the handle, so taking one touches no reference count; to keep a permit
/// beyond the handle's scope (in a spawned task), take an [`OwnedCallPermit`] instead.
///
/// Report how the call ended with [`success`](Self::success),
/// [`failure`](Self::failure) or [`record`](Self::record). Dropping the permit instead
/// records nothing and gives back a half-open probe slot, as a dropped call future does.
/// When slow-call detection is on, the call's time runs from `try_acquire` to the report.
///
/// ```
/// use seawall::circuit_breaker::{CircuitBreakerLayer, State};
///
/// // Judged as observed (no confidence needed), so that two failures open it.
/// let handle = CircuitBreakerLayer::builder().count_window(2).confidence(None).build()?.handle();
/// for _ in 0..2 {
///     let permit = handle.try_acquire().expect("closed");
///     // ... the call, here one that fails:
///     permit.failure();
/// }
/// assert_eq!(handle.state(), State::Open);
/// assert!(handle.try_acquire().is_err());
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[must_use = "report the call's outcome; a dropped permit records nothing"]
pub struct CallPermit<'a> {
    engine: &'a Engine,
    permit: Admission,
}

impl<'a> CallPermit<'a> {
    pub(crate) fn new(engine: &'a Engine, permit: Admission) -> Self {
        CallPermit { engine, permit }
    }

    /// Records how the call ended; an [`Outcome::Ignored`] call counts toward no rate.
    ///
    /// ```
    /// use seawall::{circuit_breaker::CircuitBreakerLayer, Outcome};
    ///
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// handle.try_acquire().expect("closed").record(Outcome::Ignored);
    /// assert_eq!(handle.metrics().calls, 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn record(mut self, outcome: Outcome) {
        let permit = self.permit.take();
        self.engine.complete(permit, outcome);
    }

    /// Records a successful call.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// handle.try_acquire().expect("closed").success();
    /// assert_eq!(handle.metrics().calls, 1);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a failed call.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// handle.try_acquire().expect("closed").failure();
    /// assert_eq!(handle.metrics().failures, 1);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }
}

impl Drop for CallPermit<'_> {
    fn drop(&mut self) {
        // A reported permit was taken (it is no longer a probe); only an unreported probe
        // holds a slot.
        self.engine.abandon(self.permit);
    }
}

impl fmt::Debug for CallPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallPermit")
            .field("breaker", &self.engine.name())
            .field("probe", &self.permit.is_probe())
            .finish()
    }
}

/// A [`CallPermit`] that owns a reference to the breaker, so that it can outlive the
/// handle it came from (moved into a spawned task, stored in a connection), from
/// [`CircuitBreakerHandle::try_acquire_owned`](super::CircuitBreakerHandle::try_acquire_owned).
/// Taking one adds to a reference count; otherwise it is a [`CallPermit`].
///
/// ```
/// use seawall::circuit_breaker::CircuitBreakerLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = CircuitBreakerLayer::builder().build()?.handle();
/// let permit = handle.try_acquire_owned()?;
/// tokio::spawn(async move {
///     // ... the guarded work
///     permit.success();
/// })
/// .await?;
/// assert_eq!(handle.metrics().calls, 1);
/// # Ok(())
/// # }
/// ```
#[must_use = "report the call's outcome; a dropped permit records nothing"]
pub struct OwnedCallPermit {
    engine: Link<()>,
    permit: Admission,
}

impl OwnedCallPermit {
    pub(crate) fn new(engine: Link<()>, permit: Admission) -> Self {
        OwnedCallPermit { engine, permit }
    }

    fn borrowed(&mut self) -> CallPermit<'_> {
        CallPermit::new(&self.engine, self.permit.take())
    }

    /// Records how the call ended, as [`CallPermit::record`] does.
    ///
    /// ```
    /// use seawall::{circuit_breaker::CircuitBreakerLayer, Outcome};
    ///
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// handle.try_acquire_owned().expect("closed").record(Outcome::Ignored);
    /// assert_eq!(handle.metrics().calls, 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.borrowed().record(outcome);
    }

    /// Records a successful call.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// handle.try_acquire_owned().expect("closed").success();
    /// assert_eq!(handle.metrics().calls, 1);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a failed call.
    ///
    /// ```
    /// # use seawall::circuit_breaker::CircuitBreakerLayer;
    /// let handle = CircuitBreakerLayer::builder().build()?.handle();
    /// handle.try_acquire_owned().expect("closed").failure();
    /// assert_eq!(handle.metrics().failures, 1);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }
}

impl Drop for OwnedCallPermit {
    fn drop(&mut self) {
        // Unreported: give back a probe slot, as a dropped `CallPermit` does (a reported
        // permit was taken, so this does nothing).
        drop(self.borrowed());
    }
}

impl fmt::Debug for OwnedCallPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedCallPermit")
            .field("breaker", &self.engine.name())
            .field("probe", &self.permit.is_probe())
            .finish()
    }
}
