//! Templates: builders that a keyed layer clones to build one independent layer per
//! key. The trait lives in the core so that each layer implements it for its own
//! builder; the public path is [`seawall::keyed::Template`](crate::keyed::Template).

use crate::config::ConfigError;

/// Settings from which a keyed layer builds one independent layer per key.
///
/// Implemented for the builders of the [bulkhead](crate::bulkhead::Builder), the
/// [rate limiter](crate::rate_limit::Builder), the
/// [circuit breaker](crate::circuit_breaker::Builder), the
/// [throttle](crate::throttle::Builder), the
/// [adaptive limit](crate::adaptive::Builder) and the
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
