//! Configuration of a bulkhead, validated by `build()`.

use std::sync::Arc;

use crate::homed::Anchor;
use std::time::Duration;

use super::layer::BulkheadLayer;
use super::{Mode, Settings};
use crate::config::ConfigError;
use crate::semaphore::Semaphore;
use crate::telemetry::Meter;

/// Settings for a [`BulkheadLayer`]; every one has a default.
///
/// Defaults: 1000 concurrent calls (a cap on runaway concurrency; resilience4j's 25
/// refused most calls of a slowed dependency in the outage simulator) and no waiting
/// (a full bulkhead rejects at once), in [`Mode::FailFast`]. When a maximum wait is set,
/// up to 100 callers queue in arrival order.
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
/// use std::time::Duration;
///
/// let layer = BulkheadLayer::builder()
///     .name("inventory")
///     .max_concurrent(10)
///     .max_wait(Duration::from_millis(50))
///     .max_queued(20)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder {
    pub(super) name: String,
    pub(super) max_concurrent: u32,
    pub(super) max_wait: Duration,
    pub(super) max_queued: u32,
    pub(super) mode: Mode,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            name: "bulkhead".to_owned(),
            max_concurrent: 1000,
            max_wait: Duration::ZERO,
            max_queued: 100,
            mode: Mode::FailFast,
        }
    }

    /// Names the bulkhead in events. Default: `"bulkhead"`.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().name("search").build().unwrap();
    /// assert_eq!(layer.handle().name(), "search");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How many calls may run at once. Allowed: `1..=100000`. Default: 1000, a cap on
    /// runaway concurrency rather than on normal traffic: calls in flight are the call
    /// rate times the latency (200 calls a second to a dependency slowed to 800 ms are
    /// 160 at once, which resilience4j's 25 would mostly refuse). Size it from that
    /// product when the bulkhead is to protect a scarce resource.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().max_concurrent(4).build().unwrap();
    /// assert_eq!(layer.handle().max_concurrent(), 4);
    /// ```
    pub fn max_concurrent(mut self, calls: u32) -> Self {
        self.max_concurrent = calls;
        self
    }

    /// How long a caller may wait for a permit before it is rejected with
    /// [`Reason::QueueTimeout`](crate::Reason::QueueTimeout). In [`Mode::FailFast`] the
    /// call queues, and zero rejects it at once when the bulkhead is full. In
    /// [`Mode::Backpressure`] `poll_ready` waits, and zero sets no limit. In both, the
    /// caller's [deadline](crate::deadline) cuts the wait shorter. Allowed:
    /// `[0s, 1 day]`. Default: zero.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// # use std::time::Duration;
    /// let layer = BulkheadLayer::builder().max_wait(Duration::from_millis(100)).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// In [`Mode::FailFast`] with a maximum wait, how many calls may queue; a call that
    /// finds the queue full is rejected at once. Allowed: `0..=100000`. Default: 100.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// # use std::time::Duration;
    /// let layer = BulkheadLayer::builder()
    ///     .max_wait(Duration::from_secs(1))
    ///     .max_queued(5)
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_queued(mut self, calls: u32) -> Self {
        self.max_queued = calls;
        self
    }

    /// How a full bulkhead treats a new call. Default: [`Mode::FailFast`].
    ///
    /// ```
    /// use seawall::bulkhead::{BulkheadLayer, Mode};
    /// let layer = BulkheadLayer::builder().mode(Mode::Backpressure).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Validates the settings and creates the bulkhead's shared state.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let err = BulkheadLayer::builder().max_concurrent(0).build().unwrap_err();
    /// assert_eq!(err.to_string(), "bulkhead.max_concurrent: 0 is outside 1..=100000");
    /// ```
    pub fn build(self) -> Result<BulkheadLayer, ConfigError> {
        self.validate().map_err(|e| e.within("bulkhead"))?;
        let settings = Settings {
            mode: self.mode,
            max_wait: self.max_wait,
            max_queued: self.max_queued,
        };
        let name: Arc<str> = Arc::from(self.name.as_str());
        let meter = Meter::new(crate::RejectedBy::Bulkhead.as_str(), &name);
        let semaphore = Anchor::new(Semaphore::new(self.max_concurrent, meter));
        Ok(BulkheadLayer::from_parts(semaphore, settings, name))
    }
}

impl Builder {
    /// Like [`build`](Self::build), for a bulkhead that lives as long as the process:
    /// its permits are never freed, and in return a permit touches no reference count
    /// (two atomic read-modify-writes fewer per call; see `docs/PERFORMANCE.md`).
    ///
    /// Use it for bulkheads built once at start-up, not for ones built again and again
    /// (per connection, per key): each one stays allocated.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().max_concurrent(8).build_static()?;
    /// assert_eq!(layer.handle().max_concurrent(), 8);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn build_static(self) -> Result<BulkheadLayer, ConfigError> {
        self.build().map(BulkheadLayer::leak)
    }
}

impl crate::template::Template for Builder {
    type Layer = BulkheadLayer;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
