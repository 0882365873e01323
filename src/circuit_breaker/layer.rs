//! The layer: built once, it holds the breaker's shared state.

use std::sync::Arc;

use tower::Layer;

use super::builder::Builder;
use super::engine::Engine;
use super::handle::CircuitBreakerHandle;
use super::{CircuitBreaker, Link};
use crate::classify::ErrorsAreFailures;

/// Wraps services in one shared circuit breaker.
///
/// The breaker's state is created by [`Builder::build`], not by [`Layer::layer`]: every
/// service this layer makes, and every clone of those services, shares one breaker, even
/// when a framework calls `layer` once per request.
///
/// ```
/// use seawall::circuit_breaker::CircuitBreakerLayer;
/// use tower::{service_fn, Layer, BoxError};
///
/// let layer = CircuitBreakerLayer::builder().name("search").build()?;
/// let a = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let b = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x * 2) }));
/// // `a` and `b` trip together: they share the breaker that `layer.handle()` steers.
/// # let _ = (a, b);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C = ErrorsAreFailures> {
    engine: Arc<Engine>,
    classifier: C,
    /// Set by [`Builder::build_static`].
    leaked: Option<&'static Engine>,
}

impl CircuitBreakerLayer {
    /// Starts configuring a breaker; see [`Builder`] for every setting and its default.
    ///
    /// ```
    /// use seawall::circuit_breaker::CircuitBreakerLayer;
    /// use std::time::Duration;
    ///
    /// let layer = CircuitBreakerLayer::builder()
    ///     .count_window(20)
    ///     .minimum_calls(10)
    ///     .failure_rate_threshold(seawall::Ratio::percent(50.0))
    ///     .open_duration(Duration::from_secs(5))
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<C> CircuitBreakerLayer<C> {
    pub(crate) fn from_parts(engine: Arc<Engine>, classifier: C) -> Self {
        CircuitBreakerLayer {
            engine,
            classifier,
            leaked: None,
        }
    }

    pub(crate) fn engine_arc(&self) -> &Arc<Engine> {
        &self.engine
    }

    #[cfg(test)]
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The breaker's handle and classifier (for composers that call through permits).
    #[cfg(feature = "balance")]
    pub(crate) fn into_parts(self) -> (CircuitBreakerHandle, C) {
        (self.handle(), self.classifier)
    }

    pub(crate) fn leak(mut self) -> Self {
        let kept: &'static Arc<Engine> = Box::leak(Box::new(self.engine.clone()));
        self.leaked = Some(kept);
        self
    }

    /// A handle to read and steer the breaker this layer shares.
    ///
    /// ```
    /// # use seawall::circuit_breaker::{CircuitBreakerLayer, State};
    /// let layer = CircuitBreakerLayer::builder().build().unwrap();
    /// assert_eq!(layer.handle().state(), State::Closed);
    /// ```
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(Link::shared(&self.engine, ()))
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        let link = match self.leaked {
            Some(engine) => Link::Static(engine, self.classifier.clone()),
            None => Link::shared(&self.engine, self.classifier.clone()),
        };
        CircuitBreaker::new(inner, link)
    }
}

/// Each key of a keyed layer gets a breaker of its own, built from a clone of the builder.
impl<C: Clone> crate::template::Template for super::Builder<C> {
    type Layer = CircuitBreakerLayer<C>;

    fn build_layer(&self) -> Result<Self::Layer, crate::ConfigError> {
        self.clone().build()
    }
}
