//! The layer: built once, every service it makes shares the limiter.

use std::sync::Arc;

use tower::Layer;

use super::AdaptiveLimit;
use super::algorithm::Algorithm;
use super::builder::Builder;
use super::handle::AdaptiveLimitHandle;
use super::state::Limiter;
use crate::classify::ErrorsAreFailures;

/// Wraps services in one shared adaptive concurrency limit.
///
/// The limiter is created by [`Builder::build`], not by [`Layer::layer`]: every service
/// this layer makes, and every clone, shares one limit.
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
/// use tower::{service_fn, BoxError, Layer};
///
/// let layer = AdaptiveLimitLayer::builder(Aimd::default()).build()?;
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// # let _ = service;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimitLayer<C = ErrorsAreFailures> {
    limiter: Arc<Limiter>,
    classifier: C,
}

impl AdaptiveLimitLayer {
    /// Starts configuring a limiter that runs `algorithm` ([`Aimd`](super::Aimd),
    /// [`Gradient2`](super::Gradient2) or [`Vegas`](super::Vegas)); see [`Builder`] for
    /// the other settings.
    ///
    /// ```
    /// use seawall::adaptive::{AdaptiveLimitLayer, Gradient2};
    /// let layer = AdaptiveLimitLayer::builder(Gradient2::default()).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder(algorithm: impl Into<Algorithm>) -> Builder {
        Builder::new(algorithm.into())
    }
}

impl<C> AdaptiveLimitLayer<C> {
    pub(crate) fn from_parts(limiter: Arc<Limiter>, classifier: C) -> Self {
        AdaptiveLimitLayer {
            limiter,
            classifier,
        }
    }

    /// A handle to read the limit this layer's services share.
    ///
    /// ```
    /// # use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
    /// let layer = AdaptiveLimitLayer::builder(Aimd::default()).build().unwrap();
    /// assert_eq!(layer.handle().limit(), 20);
    /// ```
    pub fn handle(&self) -> AdaptiveLimitHandle {
        AdaptiveLimitHandle {
            limiter: self.limiter.clone(),
        }
    }
}

impl<S, C: Clone> Layer<S> for AdaptiveLimitLayer<C> {
    type Service = AdaptiveLimit<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveLimit::new(inner, self.limiter.clone(), self.classifier.clone())
    }
}
