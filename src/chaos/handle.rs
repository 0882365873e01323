//! Live control of a chaos layer: the kill switch and what was injected.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::state::Shared;

/// The switch of a [`ChaosLayer`](super::ChaosLayer) and its counts. Switching off takes
/// effect for the next call; faults already injected run their course.
///
/// ```
/// use seawall::chaos::ChaosLayer;
/// let handle = ChaosLayer::builder().enabled(true).build()?.handle();
/// handle.disable(); // the kill switch
/// assert!(!handle.is_enabled());
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ChaosHandle {
    pub(super) shared: Arc<Shared>,
}

/// What a chaos layer has injected so far.
///
/// ```
/// # use seawall::chaos::ChaosLayer;
/// let injected = ChaosLayer::builder().build()?.handle().injected();
/// assert_eq!((injected.outcomes, injected.delays, injected.behaviours), (0, 0, 0));
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Injected {
    /// Calls answered by the injected outcome.
    pub outcomes: u64,
    /// Calls delayed.
    pub delays: u64,
    /// Times the injected behaviour ran.
    pub behaviours: u64,
    /// Injected outcomes and delays in flight now.
    pub active: u32,
}

impl ChaosHandle {
    /// Switches injection on.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let handle = ChaosLayer::builder().build()?.handle();
    /// handle.enable();
    /// assert!(handle.is_enabled());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn enable(&self) {
        if !self.shared.enabled.swap(true, Relaxed) {
            let name = &*self.shared.name;
            crate::telemetry::event!(
                warn,
                "chaos",
                name,
                "enabled",
                "fault injection switched on"
            );
        }
    }

    /// Switches injection off (the kill switch).
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// let handle = ChaosLayer::builder().enabled(true).build()?.handle();
    /// handle.disable();
    /// assert!(!handle.is_enabled());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn disable(&self) {
        if self.shared.enabled.swap(false, Relaxed) {
            let name = &*self.shared.name;
            crate::telemetry::event!(
                info,
                "chaos",
                name,
                "disabled",
                "fault injection switched off"
            );
        }
    }

    /// Whether injection is on.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// assert!(!ChaosLayer::builder().build()?.handle().is_enabled());
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Relaxed)
    }

    /// What has been injected so far.
    ///
    /// ```
    /// # use seawall::chaos::ChaosLayer;
    /// assert_eq!(ChaosLayer::builder().build()?.handle().injected().delays, 0);
    /// # Ok::<(), seawall::ConfigError>(())
    /// ```
    pub fn injected(&self) -> Injected {
        let s = &self.shared;
        Injected {
            outcomes: s.outcomes.load(Relaxed),
            delays: s.delays.load(Relaxed),
            behaviours: s.behaviours.load(Relaxed),
            active: s.active.taken(),
        }
    }
}
