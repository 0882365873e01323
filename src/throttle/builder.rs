//! Configuration of a client-side throttle, validated by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::layer::ThrottleLayer;
use super::state::{Settings, Throttler};
use crate::classify::ErrorsAreFailures;
use crate::config::{ConfigError, Ratio};

/// Settings for a [`ThrottleLayer`]; every one has a default.
///
/// Defaults follow the Google SRE book's client-side throttling: `K = 2` over the last
/// 2 minutes (kept in 12 buckets of 10 s). seawall adds a cap on the rejection
/// probability, 0.9 by default, so that at least one call in ten still reaches a
/// struggling backend and its recovery shows within one window.
///
/// ```
/// use seawall::{throttle::ThrottleLayer, Ratio};
/// use std::time::Duration;
///
/// let layer = ThrottleLayer::builder()
///     .k(1.5)
///     .window(Duration::from_secs(60), 6)
///     .max_reject_probability(Ratio::percent(50.0))
///     .seed(7)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder<C = ErrorsAreFailures> {
    pub(super) name: String,
    pub(super) k: f64,
    pub(super) window: Duration,
    pub(super) buckets: u32,
    pub(super) max_reject_probability: f64,
    pub(super) seed: Option<u64>,
    pub(super) classifier: C,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            name: "throttle".to_owned(),
            k: 2.0,
            window: Duration::from_secs(120),
            buckets: 12,
            max_reject_probability: 0.9,
            seed: None,
            classifier: ErrorsAreFailures,
        }
    }
}

impl<C> Builder<C> {
    /// Names the throttle (for the handle). Default: `"throttle"`.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// let layer = ThrottleLayer::builder().name("search").build().unwrap();
    /// assert_eq!(layer.handle().name(), "search");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The multiplier K: the throttle starts rejecting once requests exceed K times
    /// accepts. Lower is more aggressive. Allowed: `[1, 100]`. Default: 2.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// let layer = ThrottleLayer::builder().k(1.1).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn k(mut self, k: f64) -> Self {
        self.k = k;
        self
    }

    /// The sliding window of history, kept in `buckets` buckets that expire one at a
    /// time. Allowed: `buckets` in `1..=1000`, each bucket at least 1 ms, the window at
    /// most 1 day. Default: 2 minutes in 12 buckets.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// # use std::time::Duration;
    /// let layer = ThrottleLayer::builder().window(Duration::from_secs(30), 30).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn window(mut self, window: Duration, buckets: u32) -> Self {
        self.window = window;
        self.buckets = buckets;
        self
    }

    /// The highest probability with which a call is rejected. Allowed: `(0%, 100%]`,
    /// reported as a fraction in `(0, 1]`. Default: 90 %.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// use seawall::Ratio;
    /// let layer = ThrottleLayer::builder()
    ///     .max_reject_probability(Ratio::fraction(0.75))
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_reject_probability(mut self, p: Ratio) -> Self {
        self.max_reject_probability = p.as_fraction();
        self
    }

    /// Seeds the random draw, for reproducible tests. Default: a random seed.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// let layer = ThrottleLayer::builder().seed(42).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Decides which results count as *accepted* by the backend: [`Outcome::Success`]
    /// is accepted, [`Outcome::Failure`] is not, [`Outcome::Ignored`] is not counted at
    /// all. Default: [`ErrorsAreFailures`].
    ///
    /// [`Outcome::Success`]: crate::Outcome::Success
    /// [`Outcome::Failure`]: crate::Outcome::Failure
    /// [`Outcome::Ignored`]: crate::Outcome::Ignored
    ///
    /// ```
    /// use seawall::{throttle::ThrottleLayer, Outcome};
    ///
    /// // Only "overloaded" answers (HTTP 429 and 503) count against the backend.
    /// let layer = ThrottleLayer::builder()
    ///     .classifier(|r: &Result<u16, tower::BoxError>| match r {
    ///         Ok(429 | 503) => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///         Err(_) => Outcome::Ignored,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2> {
        Builder {
            name: self.name,
            k: self.k,
            window: self.window,
            buckets: self.buckets,
            max_reject_probability: self.max_reject_probability,
            seed: self.seed,
            classifier,
        }
    }

    /// Validates the settings and creates the throttle's shared state.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// let err = ThrottleLayer::builder().k(0.5).build().unwrap_err();
    /// assert_eq!(err.to_string(), "throttle.k: 0.5 is outside [1, 100]");
    /// ```
    pub fn build(self) -> Result<ThrottleLayer<C>, ConfigError> {
        let bucket_ms = self.validate().map_err(|e| e.within("throttle"))?;
        let settings = Settings {
            name: self.name,
            k: self.k,
            max_reject_probability: self.max_reject_probability,
            bucket_ms,
        };
        let seed = self.seed.unwrap_or_else(rand::random);
        let throttler = Arc::new(Throttler::new(settings, self.buckets, seed));
        Ok(ThrottleLayer::from_parts(throttler, self.classifier))
    }
}

impl<C: Clone> crate::template::Template for Builder<C> {
    type Layer = ThrottleLayer<C>;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
