//! The layer: built once, it holds the bulkhead's shared permits.

use std::sync::Arc;

use tower::Layer;

use super::builder::Builder;
use super::handle::BulkheadHandle;
use super::{Bulkhead, Settings};
use crate::homed::Anchor;
use crate::semaphore::Semaphore;

/// Wraps services in one shared bulkhead.
///
/// The permits are created by [`Builder::build`], not by [`Layer::layer`]: every service
/// this layer makes, and every clone of those services, draws from the same permits.
///
/// ```
/// use seawall::bulkhead::BulkheadLayer;
/// use tower::{service_fn, BoxError, Layer};
///
/// let layer = BulkheadLayer::builder().max_concurrent(8).build()?;
/// let a = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let b = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x * 2) }));
/// // `a` and `b` together run at most 8 calls at once.
/// # let _ = (a, b);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BulkheadLayer {
    semaphore: Anchor<Semaphore>,
    settings: Settings,
    name: Arc<str>,
}

impl BulkheadLayer {
    /// Starts configuring a bulkhead; see [`Builder`] for every setting and its default.
    ///
    /// ```
    /// use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().max_concurrent(10).build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_parts(
        semaphore: Anchor<Semaphore>,
        settings: Settings,
        name: Arc<str>,
    ) -> Self {
        BulkheadLayer {
            semaphore,
            settings,
            name,
        }
    }

    /// The same bulkhead, never freed ([`Builder::build_static`]).
    pub(crate) fn leak(mut self) -> Self {
        self.semaphore = self.semaphore.leak();
        self
    }

    /// A handle to read and change the limit this layer's services share.
    ///
    /// ```
    /// # use seawall::bulkhead::BulkheadLayer;
    /// let layer = BulkheadLayer::builder().build().unwrap();
    /// assert_eq!(layer.handle().in_flight(), 0);
    /// ```
    pub fn handle(&self) -> BulkheadHandle {
        BulkheadHandle::new(self.semaphore.clone(), self.name.clone())
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(
            inner,
            self.semaphore.clone(),
            self.settings,
            self.name.clone(),
        )
    }
}
