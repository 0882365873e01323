//! Templates: the settings each key's own layer is built from.

use crate::config::ConfigError;
use crate::{bulkhead, circuit_breaker, pipeline, rate_limit};

/// Settings from which a keyed layer builds one independent layer per key.
///
/// Implemented for the builders of the [bulkhead](crate::bulkhead::Builder), the
/// [rate limiter](crate::rate_limit::Builder), the
/// [circuit breaker](crate::circuit_breaker::Builder) and the
/// [standard pipeline](crate::pipeline::Builder): each key gets what `build()` of a
/// clone of the builder returns, so keys share settings and nothing else.
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
/// use seawall::keyed::Template;
///
/// let template = BulkheadLayer::builder().max_concurrent(4);
/// let a = template.build_layer()?;
/// let b = template.build_layer()?;
/// a.handle().set_max_concurrent(1)?;
/// assert_eq!(b.handle().max_concurrent(), 4, "separate state");
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub trait Template {
    /// The layer made for each key.
    type Layer: Clone;

    /// Builds a fresh layer, with state of its own.
    ///
    /// # Errors
    ///
    /// The builder's [`ConfigError`], if its settings are out of range.
    ///
    /// ```
    /// use seawall::bulkhead::BulkheadLayer;
    /// use seawall::keyed::Template;
    ///
    /// let layer = BulkheadLayer::builder().max_concurrent(2).build_layer()?;
    /// assert_eq!(layer.handle().max_concurrent(), 2);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    fn build_layer(&self) -> Result<Self::Layer, ConfigError>;
}

impl Template for bulkhead::Builder {
    type Layer = bulkhead::BulkheadLayer;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}

impl Template for rate_limit::Builder {
    type Layer = rate_limit::RateLimitLayer;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}

impl<C: Clone> Template for circuit_breaker::Builder<C> {
    type Layer = circuit_breaker::CircuitBreakerLayer<C>;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}

/// A whole [standard pipeline](crate::pipeline) per key (e.g. per authority), each with
/// its own bulkhead, retry budget and breaker.
impl<C: Clone, H: Clone, R: Clone> Template for pipeline::Builder<C, H, R> {
    type Layer = pipeline::StandardPipeline<C, H, R>;

    fn build_layer(&self) -> Result<Self::Layer, ConfigError> {
        self.clone().build()
    }
}
