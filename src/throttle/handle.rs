//! Reading a throttle's history and rejection probability.

use std::sync::Arc;

use super::state::Throttler;

/// Reads one throttle; clone it freely (it is an `Arc`).
///
/// ```
/// use seawall::throttle::ThrottleLayer;
/// let handle = ThrottleLayer::builder().build()?.handle();
/// assert_eq!((handle.requests(), handle.accepts()), (0, 0));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ThrottleHandle {
    throttler: Arc<Throttler>,
}

impl ThrottleHandle {
    pub(crate) fn new(throttler: Arc<Throttler>) -> Self {
        ThrottleHandle { throttler }
    }

    /// The throttle's name, as given to the builder.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// assert_eq!(ThrottleLayer::builder().build().unwrap().handle().name(), "throttle");
    /// ```
    pub fn name(&self) -> &str {
        &self.throttler.settings.name
    }

    /// Requests counted over the window: calls the backend answered (except ignored
    /// ones) plus calls the throttle rejected.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// assert_eq!(ThrottleLayer::builder().build().unwrap().handle().requests(), 0);
    /// ```
    pub fn requests(&self) -> u64 {
        self.throttler.counts().requests
    }

    /// Requests the backend accepted over the window (classified as successes).
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// assert_eq!(ThrottleLayer::builder().build().unwrap().handle().accepts(), 0);
    /// ```
    pub fn accepts(&self) -> u64 {
        self.throttler.counts().accepts
    }

    /// The probability with which the next call is rejected:
    /// `min(cap, max(0, (requests − K·accepts) / (requests + 1)))`.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// assert_eq!(ThrottleLayer::builder().build().unwrap().handle().rejection_probability(), 0.0);
    /// ```
    pub fn rejection_probability(&self) -> f64 {
        self.throttler.probability(self.throttler.counts())
    }
}
