//! Reading and changing a bulkhead's limit at run time.

use crate::homed::Anchor;
use std::sync::Arc;

use crate::config::ConfigError;
use crate::semaphore::Semaphore;

use super::config::check_max_concurrent;

/// Reads and changes one bulkhead; clone it freely (it is an `Arc`).
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
///
/// let layer = BulkheadLayer::builder().max_concurrent(10).build()?;
/// let handle = layer.handle();
/// handle.set_max_concurrent(20)?; // e.g. after the dependency scaled out
/// assert_eq!(handle.max_concurrent(), 20);
/// assert_eq!((handle.in_flight(), handle.queued()), (0, 0));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BulkheadHandle {
    semaphore: Anchor<Semaphore>,
    name: Arc<str>,
}

impl BulkheadHandle {
    pub(crate) fn new(semaphore: Anchor<Semaphore>, name: Arc<str>) -> Self {
        BulkheadHandle { semaphore, name }
    }

    /// The bulkhead's name, as given to the builder and used in events.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().name("db").build().unwrap();
    /// assert_eq!(layer.handle().name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many calls may run at once.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().build().unwrap();
    /// assert_eq!(layer.handle().max_concurrent(), 1000);
    /// ```
    pub fn max_concurrent(&self) -> u32 {
        self.semaphore.limit()
    }

    /// Changes the limit for every service sharing this bulkhead. Raising it lets queued
    /// calls start at once; lowering it lets running calls finish, and admits no new one
    /// until the count is below the new limit. Emits one `tracing` event (target
    /// `seawall::bulkhead`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `calls` is outside `1..=100000`; the limit is then unchanged.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let handle = BulkheadLayer::builder().build().unwrap().handle();
    /// handle.set_max_concurrent(5).unwrap();
    /// assert!(handle.set_max_concurrent(0).is_err());
    /// assert_eq!(handle.max_concurrent(), 5);
    /// ```
    pub fn set_max_concurrent(&self, calls: u32) -> Result<(), ConfigError> {
        if let Err(error) = check_max_concurrent(calls).map_err(|e| e.within("bulkhead")) {
            crate::telemetry::event!(
                error,
                "bulkhead",
                &*self.name,
                "limit_refused",
                %error,
                "bulkhead limit change refused; limit kept"
            );
            return Err(error);
        }
        let from = self.semaphore.set_limit(calls);
        crate::telemetry::event!(
            info,
            "bulkhead",
            &*self.name,
            "limit_changed",
            from,
            to = calls,
            "bulkhead limit changed"
        );
        Ok(())
    }

    /// How many calls hold a permit now.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// assert_eq!(BulkheadLayer::builder().build().unwrap().handle().in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> u32 {
        self.semaphore.in_flight()
    }

    /// How many calls (or, in [`Mode::Backpressure`](super::Mode::Backpressure), services
    /// polled for readiness) wait for a permit now.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// assert_eq!(BulkheadLayer::builder().build().unwrap().handle().queued(), 0);
    /// ```
    pub fn queued(&self) -> u32 {
        self.semaphore.queued()
    }
}
