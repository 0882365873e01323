//! Configuration of a rate limiter, validated by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::config::MAX_BURST;
use super::gcra::Gcra;
use super::layer::RateLimitLayer;
use crate::config::ConfigError;

/// Settings for a [`RateLimitLayer`]. The rate is required; the rest has defaults.
///
/// Defaults: a burst as large as the rate's permits (so `100` per second lets 100 calls
/// through at once after a quiet second, like `governor`'s quotas), and no waiting: a call
/// over the rate is rejected at once with a retry-after hint (like Polly's rate limiter
/// with a queue of 0).
///
/// ```
/// use seawall::rate_limit::RateLimitLayer;
/// use std::time::Duration;
///
/// let layer = RateLimitLayer::builder(100, Duration::from_secs(1))
///     .burst(10)
///     .max_wait(Duration::from_millis(200))
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder {
    pub(super) name: String,
    pub(super) permits: u32,
    pub(super) per: Duration,
    pub(super) burst: Option<u32>,
    pub(super) max_wait: Duration,
    pub(super) fast_clock: bool,
    #[cfg(feature = "redis")]
    pub(super) fleet: Option<crate::fleet::Fleet>,
}

impl Builder {
    pub(crate) fn new(permits: u32, per: Duration) -> Self {
        Builder {
            name: "rate_limit".to_owned(),
            permits,
            per,
            burst: None,
            max_wait: Duration::ZERO,
            fast_clock: false,
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }

    /// Names the limiter in events. Default: `"rate_limit"`.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(5, Duration::from_secs(1)).name("geo").build().unwrap();
    /// assert_eq!(layer.handle().name(), "geo");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How many calls may pass at once after a quiet period. Allowed: `1..=1000000`.
    /// Default: the rate's permits.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(50, Duration::from_secs(1)).burst(1).build().unwrap();
    /// assert_eq!(layer.handle().burst(), 1);
    /// ```
    pub fn burst(mut self, calls: u32) -> Self {
        self.burst = Some(calls);
        self
    }

    /// How long a call may wait for its slot; zero (the default) rejects at once. A
    /// call's [deadline](crate::deadline) cuts the wait shorter. A call that would have
    /// to wait longer is rejected at once, with the wait as its retry-after hint.
    /// Allowed: `[0s, 1 day]`.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(50, Duration::from_secs(1))
    ///     .max_wait(Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Reads the time from the CPU's time-stamp counter (through `quanta`) instead of
    /// tokio's clock: an allowed call then costs about as much as `governor`'s (measured
    /// in `docs/PERFORMANCE.md`). The price: the limiter no longer follows tokio's paused
    /// time, so leave it off in tests that pause or advance time. Where the CPU has no
    /// usable counter, `quanta` falls back to the OS clock. Default: off. Only with the
    /// `fast-clock` feature.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(10_000, Duration::from_secs(1))
    ///     .fast_clock(true)
    ///     .build()
    ///     .unwrap();
    /// assert!(layer.handle().fast_clock());
    /// ```
    #[cfg(feature = "fast-clock")]
    pub fn fast_clock(mut self, on: bool) -> Self {
        self.fast_clock = on;
        self
    }

    /// Makes the limit the whole fleet's (feature `redis`): the permits per period are
    /// shared by every instance of `fleet` with this limiter's [`name`](Self::name).
    /// Each instance leases permits from one bucket in Redis at every sync and spends
    /// them locally, so no call waits on Redis; a call refused for want of a permit gets
    /// the sync interval as its retry-after hint (a fleet limit does not wait, whatever
    /// [`max_wait`](Self::max_wait) says). Until the first sync, and whenever Redis is
    /// away, the instance limits itself locally to its share: the rate divided by the
    /// last known number of live instances. Name the limiter the same in every instance.
    /// The fleet's rate is the one given here: [`RateLimitHandle::set_rate`] does not
    /// change a fleet limit (the next sync restores the local limiter's rate).
    ///
    /// [`RateLimitHandle::set_rate`]: super::RateLimitHandle::set_rate
    ///
    /// ```no_run
    /// use seawall::fleet::Fleet;
    /// use seawall::rate_limit::RateLimitLayer;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("shop").start()?;
    /// let layer = RateLimitLayer::builder(1_000, Duration::from_secs(1))
    ///     .name("geo-api")
    ///     .fleet(&fleet)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub fn fleet(mut self, fleet: &crate::fleet::Fleet) -> Self {
        self.fleet = Some(fleet.clone());
        self
    }

    /// Validates the settings and creates the limiter's shared state.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let err = RateLimitLayer::builder(0, Duration::from_secs(1)).build().unwrap_err();
    /// assert_eq!(err.to_string(), "rate_limit.permits: 0 is outside 1..=1000000000");
    /// ```
    pub fn build(self) -> Result<RateLimitLayer, ConfigError> {
        self.validate().map_err(|e| e.within("rate_limit"))?;
        let burst = self.burst.unwrap_or(self.permits.min(MAX_BURST));
        let clock = if self.fast_clock {
            #[cfg(feature = "fast-clock")]
            let clock = crate::time::Stopwatch::fast();
            #[cfg(not(feature = "fast-clock"))]
            let clock = crate::time::Stopwatch::tokio();
            clock
        } else {
            crate::time::Stopwatch::tokio()
        };
        let gcra = Arc::new(Gcra::new(self.permits, self.per, burst, clock));
        let name: Arc<str> = Arc::from(self.name.as_str());
        #[cfg(feature = "redis")]
        if let Some(fleet) = &self.fleet {
            let lease = super::fleet::Lease::new(name.clone(), &gcra, burst, fleet);
            let lease = Arc::new(lease);
            let participant: std::sync::Weak<dyn crate::fleet::Participant> =
                Arc::downgrade(&lease) as _;
            fleet.join(participant);
            let _ = gcra.lease.set(lease);
            // Until the first sync: the rate's pace, without a burst of its own.
            gcra.drain();
        }
        Ok(RateLimitLayer::from_parts(gcra, self.max_wait, name))
    }
}

impl crate::template::Template for Builder {
    type Layer = RateLimitLayer;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
