//! Reading and changing a rate limiter's rate at run time.

use std::sync::Arc;
use std::time::Duration;

use super::config::check_rate;
use super::gcra::Gcra;
use crate::config::ConfigError;

/// Reads and changes one rate limiter; clone it freely (it is an `Arc`).
///
/// ```
/// use seawall::rate_limit::RateLimitLayer;
/// use std::time::Duration;
///
/// let layer = RateLimitLayer::builder(100, Duration::from_secs(1)).build()?;
/// let handle = layer.handle();
/// handle.set_rate(20, Duration::from_secs(1))?; // the dependency asked us to slow down
/// assert_eq!(handle.rate(), (20, Duration::from_secs(1)));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RateLimitHandle {
    gcra: Arc<Gcra>,
    name: Arc<str>,
}

impl RateLimitHandle {
    pub(crate) fn new(gcra: Arc<Gcra>, name: Arc<str>) -> Self {
        RateLimitHandle { gcra, name }
    }

    /// The limiter's name, as given to the builder and used in events.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(1, Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(layer.handle().name(), "rate_limit");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rate: `permits` calls per period.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(3, Duration::from_secs(2)).build().unwrap();
    /// assert_eq!(layer.handle().rate(), (3, Duration::from_secs(2)));
    /// ```
    pub fn rate(&self) -> (u32, Duration) {
        self.gcra.rate()
    }

    /// How many calls may pass at once after a quiet period.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(3, Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(layer.handle().burst(), 3);
    /// ```
    pub fn burst(&self) -> u32 {
        self.gcra.burst()
    }

    /// Whether the limiter reads the CPU's time-stamp counter
    /// (`Builder::fast_clock`, feature `fast-clock`) rather than tokio's clock.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(3, Duration::from_secs(1)).build().unwrap();
    /// assert!(!layer.handle().fast_clock());
    /// ```
    pub fn fast_clock(&self) -> bool {
        self.gcra.fast_clock()
    }

    /// Changes the rate for every service sharing this limiter; the burst stays.
    /// Slots already reserved keep their time. Emits one `tracing` event (target
    /// `seawall::rate_limit`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if the rate is out of range; the rate is then unchanged.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let handle = RateLimitLayer::builder(3, Duration::from_secs(1)).build().unwrap().handle();
    /// assert!(handle.set_rate(0, Duration::from_secs(1)).is_err());
    /// assert_eq!(handle.rate(), (3, Duration::from_secs(1)));
    /// ```
    pub fn set_rate(&self, permits: u32, per: Duration) -> Result<(), ConfigError> {
        if let Err(error) = check_rate(permits, per).map_err(|e| e.within("rate_limit")) {
            crate::telemetry::event!(
                error,
                "rate_limit",
                &*self.name,
                "rate_refused",
                %error,
                "rate limit change refused; rate kept"
            );
            return Err(error);
        }
        let (from_permits, from_per) = self.gcra.rate();
        self.gcra.set_rate(permits, per);
        crate::telemetry::event!(
            info,
            "rate_limit",
            &*self.name,
            "rate_changed",
            from_permits,
            from_per_ms = from_per.as_millis() as u64,
            to_permits = permits,
            to_per_ms = per.as_millis() as u64,
            "rate limit changed"
        );
        Ok(())
    }
}
