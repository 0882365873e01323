//! The layer: built once, it holds the retry budget and the limits that its services
//! share, and gives the handle that changes those limits.

use std::sync::Arc;

use tower::Layer;

use super::builder::Builder;
use super::policy::{Policy, Shared};
use super::{CloneRequest, RejectionHint, Retry, RetryHandle};
use crate::classify::ErrorsAreFailures;
use crate::homed::Homed;

/// Wraps services in retries that share one budget.
///
/// The budget is created by [`Builder::build`], not by [`Layer::layer`]: every service
/// this layer makes, and every clone of those, draws on the same budget, even when a
/// framework calls `layer` once per request.
///
/// ```
/// use seawall::retry::RetryLayer;
/// use tower::{service_fn, BoxError, Layer};
///
/// let layer = RetryLayer::builder().max_attempts(2).build()?;
/// let a = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x) }));
/// let b = layer.layer(service_fn(|x: u32| async move { Ok::<_, BoxError>(x * 2) }));
/// // `a` and `b` share one retry budget.
/// # let _ = (a, b);
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RetryLayer<C = ErrorsAreFailures, H = RejectionHint, R = CloneRequest> {
    shared: Arc<Shared>,
    classifier: C,
    hints: H,
    replay: R,
}

impl RetryLayer {
    /// Starts configuring retries; see [`Builder`] for every setting and its default.
    ///
    /// ```
    /// use seawall::retry::{Jitter, RetryLayer};
    /// use std::time::Duration;
    ///
    /// let layer = RetryLayer::builder()
    ///     .max_attempts(4)
    ///     .exponential(Duration::from_millis(20), 2.0, Duration::from_secs(1))
    ///     .jitter(Jitter::DecorrelatedV2)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<C, H, R> RetryLayer<C, H, R> {
    /// A handle that reads and changes this layer's limits while calls run; see
    /// [`RetryHandle`].
    ///
    /// ```
    /// use seawall::retry::RetryLayer;
    ///
    /// let layer = RetryLayer::builder().build()?;
    /// layer.handle().set_max_attempts(2)?; // every service of `layer` sees it
    /// assert_eq!(layer.handle().max_attempts(), 2);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn handle(&self) -> RetryHandle {
        RetryHandle::new(self.shared.clone())
    }

    /// This layer's budget, to share with a hedging layer so that retries and hedges
    /// together stay within it (see [`SharedBudget`](crate::SharedBudget)).
    ///
    /// ```
    /// use seawall::retry::RetryLayer;
    /// let budget = RetryLayer::builder().build()?.shared_budget();
    /// # let _ = budget;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn shared_budget(&self) -> crate::SharedBudget {
        crate::SharedBudget::new(self.shared.clone())
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, classifier: C, hints: H, replay: R) -> Self {
        RetryLayer {
            shared,
            classifier,
            hints,
            replay,
        }
    }
}

impl<S, C: Clone, H: Clone, R: Clone> Layer<S> for RetryLayer<C, H, R> {
    type Service = Retry<S, C, H, R>;

    fn layer(&self, inner: S) -> Self::Service {
        let policy = Policy {
            shared: self.shared.clone(),
            classifier: self.classifier.clone(),
            hints: self.hints.clone(),
            replay: self.replay.clone(),
            spans: self.shared.spans,
        };
        Retry::new(inner, Homed::new(policy))
    }
}
