//! The chaos layer: built once, shared by every service it wraps.

use std::sync::Arc;

use tower::Layer;

use super::Chaos;
use super::builder::{Builder, Every, NoOutcome};
use super::handle::ChaosHandle;
use super::state::Shared;

/// Wraps services in [`Chaos`]: faults injected into a share of their calls, once
/// switched on. Clones share one switch, one stream of draws and one cap.
///
/// ```
/// use seawall::chaos::ChaosLayer;
/// use seawall::Ratio;
/// use std::time::Duration;
///
/// let layer = ChaosLayer::builder()
///     .latency(Ratio::percent(5.0), Duration::from_millis(300))
///     .build()?;
/// assert!(!layer.handle().is_enabled(), "off until switched on");
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ChaosLayer<O = NoOutcome, P = Every> {
    pub(super) shared: Arc<Shared>,
    pub(super) outcome: O,
    pub(super) only: P,
}

impl ChaosLayer {
    /// A builder with nothing injected, switched off.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let layer = ChaosLayer::builder().build()?;
    /// # let _ = layer;
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<O, P> ChaosLayer<O, P> {
    /// The switch and the counts of what was injected.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let layer = ChaosLayer::builder().build()?;
    /// layer.handle().enable();
    /// assert!(layer.handle().is_enabled());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn handle(&self) -> ChaosHandle {
        ChaosHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<S, O: Clone, P: Clone> Layer<S> for ChaosLayer<O, P> {
    type Service = Chaos<S, O, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Chaos {
            inner,
            shared: self.shared.clone(),
            outcome: self.outcome.clone(),
            only: self.only.clone(),
        }
    }
}
