//! The layer: built once, it holds the limiter's shared state.

use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use super::RateLimit;
use super::builder::Builder;
use super::gcra::Gcra;
use super::handle::RateLimitHandle;

/// Wraps services in one shared rate limit.
///
/// The limiter's state is created by [`Builder::build`], not by [`Layer::layer`]: cloning
/// the layer, the services it makes, or their clones, shares one rate (unlike
/// `tower::limit::RateLimit`, which is not `Clone`).
///
/// ```
/// use seawall::rate_limit::RateLimitLayer;
/// use std::time::Duration;
/// use tower::{service_fn, BoxError, Layer};
///
/// let layer = RateLimitLayer::builder(100, Duration::from_secs(1)).build()?;
/// let a = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let b = a.clone(); // `a` and `b` together make at most 100 calls a second
/// # let _ = b;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    gcra: Arc<Gcra>,
    max_wait: Duration,
    name: Arc<str>,
}

impl RateLimitLayer {
    /// Starts configuring a limiter of `permits` calls `per` period; see [`Builder`]
    /// for the other settings and their defaults.
    ///
    /// ```
    /// use seawall::rate_limit::RateLimitLayer;
    /// use std::time::Duration;
    /// let layer = RateLimitLayer::builder(10, Duration::from_secs(1)).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder(permits: u32, per: Duration) -> Builder {
        Builder::new(permits, per)
    }

    pub(crate) fn from_parts(gcra: Arc<Gcra>, max_wait: Duration, name: Arc<str>) -> Self {
        RateLimitLayer {
            gcra,
            max_wait,
            name,
        }
    }

    /// A handle to read and change the rate this layer's services share.
    ///
    /// ```
    /// # use seawall::rate_limit::RateLimitLayer;
    /// # use std::time::Duration;
    /// let layer = RateLimitLayer::builder(10, Duration::from_secs(1)).build().unwrap();
    /// assert_eq!(layer.handle().rate(), (10, Duration::from_secs(1)));
    /// ```
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle::new(self.gcra.clone(), self.name.clone())
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.gcra.clone(), self.max_wait, self.name.clone())
    }
}
