//! Configuration of an adaptive concurrency limiter, validated by `build()`.

use std::sync::Arc;

use super::algorithm::Algorithm;
use super::layer::AdaptiveLimitLayer;
use super::state::Limiter;
use crate::classify::ErrorsAreFailures;
use crate::config::ConfigError;

/// Settings for an [`AdaptiveLimitLayer`]. The algorithm is required; the rest has
/// defaults, Netflix concurrency-limits' for every algorithm: start at 20, never below
/// 20 nor above 200. Lower the minimum to let the limit shrink below where it starts.
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Gradient2};
///
/// let layer = AdaptiveLimitLayer::builder(Gradient2::default())
///     .name("search")
///     .initial_limit(10)
///     .min_limit(2)
///     .max_limit(100)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get a layer"]
pub struct Builder<C = ErrorsAreFailures> {
    pub(super) name: String,
    pub(super) algorithm: Algorithm,
    pub(super) initial: u32,
    pub(super) min: u32,
    pub(super) max: u32,
    pub(super) classifier: C,
}

impl Builder {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        Builder {
            name: "adaptive".to_owned(),
            algorithm,
            initial: 20,
            min: 20,
            max: 200,
            classifier: ErrorsAreFailures,
        }
    }
}

impl<C> Builder<C> {
    /// Names the limiter in events. Default: `"adaptive"`.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).name("db").build().unwrap();
    /// assert_eq!(layer.handle().name(), "db");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The limit to start with. Allowed: `min_limit..=max_limit`. Default: 20.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).initial_limit(50).build().unwrap();
    /// assert_eq!(layer.handle().limit(), 50);
    /// ```
    pub fn initial_limit(mut self, limit: u32) -> Self {
        self.initial = limit;
        self
    }

    /// The limit never goes below this. Allowed: `1..=max_limit`. Default: 20.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).min_limit(1).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn min_limit(mut self, limit: u32) -> Self {
        self.min = limit;
        self
    }

    /// The limit never goes above this. Allowed: `1..=100000`. Default: 200.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).max_limit(1000).build().unwrap();
    /// # let _ = layer;
    /// ```
    pub fn max_limit(mut self, limit: u32) -> Self {
        self.max = limit;
        self
    }

    /// Decides which results count as drops (failures) for the algorithm; ignored
    /// results give their permit back without moving the limit.
    /// Default: [`ErrorsAreFailures`].
    ///
    /// ```
    /// use seawall::{adaptive::{AdaptiveLimitLayer, Aimd}, Outcome};
    ///
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default())
    ///     .classifier(|r: &Result<u16, tower::BoxError>| match r {
    ///         Ok(503) | Err(_) => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn classifier<C2>(self, classifier: C2) -> Builder<C2> {
        Builder {
            name: self.name,
            algorithm: self.algorithm,
            initial: self.initial,
            min: self.min,
            max: self.max,
            classifier,
        }
    }

    /// Validates the settings and creates the limiter's shared state.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its allowed range.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let err = AdaptiveLimitLayer::builder(Aimd::default()).initial_limit(500).build().unwrap_err();
    /// assert_eq!(err.to_string(), "adaptive.initial_limit: 500 is outside 20..=200 (min_limit..=max_limit)");
    /// ```
    pub fn build(self) -> Result<AdaptiveLimitLayer<C>, ConfigError> {
        self.validate().map_err(|e| e.within("adaptive"))?;
        let name = Arc::from(self.name.as_str());
        let limiter = Limiter::new(name, self.algorithm, self.initial, self.min, self.max);
        Ok(AdaptiveLimitLayer::from_parts(
            Arc::new(limiter),
            self.classifier,
        ))
    }
}

impl<C: Clone> crate::template::Template for Builder<C> {
    type Layer = AdaptiveLimitLayer<C>;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
