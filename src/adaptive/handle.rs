//! The adaptive limit's handle: reads the live limit.

use std::sync::Arc;

use super::state::Limiter;

/// Reads one adaptive limiter; clone it freely (it is an `Arc`).
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
/// let handle = AdaptiveLimitLayer::builder(Aimd::default()).build()?.handle();
/// assert_eq!((handle.limit(), handle.in_flight()), (20, 0));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimitHandle {
    pub(crate) limiter: Arc<Limiter>,
}

impl AdaptiveLimitHandle {
    /// The limiter's name, as given to the builder and used in events.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// assert_eq!(AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap().handle().name(), "adaptive");
    /// ```
    pub fn name(&self) -> &str {
        &self.limiter.name
    }

    /// The current limit.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).initial_limit(30).build().unwrap();
    /// assert_eq!(layer.handle().limit(), 30);
    /// ```
    pub fn limit(&self) -> u32 {
        self.limiter.limit()
    }

    /// How many calls hold a permit now.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// assert_eq!(AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap().handle().in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> u32 {
        self.limiter.semaphore.in_flight()
    }
}
