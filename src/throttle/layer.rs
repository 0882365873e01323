//! The layer: built once, it holds the throttle's shared history.

use std::sync::Arc;

use tower::Layer;

use super::Throttle;
use super::builder::Builder;
use super::handle::ThrottleHandle;
use super::state::Throttler;
use crate::classify::ErrorsAreFailures;

/// Wraps services in one shared client-side throttle.
///
/// The history is created by [`Builder::build`], not by [`Layer::layer`]: every service
/// this layer makes, and every clone, feeds and reads the same window.
///
/// ```
/// use seawall::throttle::ThrottleLayer;
/// use tower::{service_fn, BoxError, Layer};
///
/// let layer = ThrottleLayer::builder().build()?;
/// let service = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// # let _ = service;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ThrottleLayer<C = ErrorsAreFailures> {
    throttler: Arc<Throttler>,
    classifier: C,
}

impl ThrottleLayer {
    /// Starts configuring a throttle; see [`Builder`] for every setting and its default.
    ///
    /// ```
    /// use seawall::throttle::ThrottleLayer;
    /// let layer = ThrottleLayer::builder().k(2.0).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<C> ThrottleLayer<C> {
    pub(crate) fn from_parts(throttler: Arc<Throttler>, classifier: C) -> Self {
        ThrottleLayer {
            throttler,
            classifier,
        }
    }

    /// A handle to read the throttle this layer's services share.
    ///
    /// ```
    /// # use seawall::throttle::ThrottleLayer;
    /// let layer = ThrottleLayer::builder().build().unwrap();
    /// assert_eq!(layer.handle().rejection_probability(), 0.0);
    /// ```
    pub fn handle(&self) -> ThrottleHandle {
        ThrottleHandle::new(self.throttler.clone())
    }
}

impl<S, C: Clone> Layer<S> for ThrottleLayer<C> {
    type Service = Throttle<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle::new(inner, self.throttler.clone(), self.classifier.clone())
    }
}
