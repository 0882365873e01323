//! One retry budget for a whole fleet (feature `redis`).
//!
//! The budget's ratio part is already the fleet's: each instance may retry a share of
//! its own requests, so the fleet retries at most that share of all its requests. What
//! grows with the fleet is the reserve, the few retries a second allowed whatever the
//! traffic: so each instance keeps the reserve's rate divided by the live instances,
//! and the fleet together keeps the configured rate.

use std::sync::Weak;

use super::Builder;
use super::policy::Shared;
use crate::fleet::Participant;

/// Keeps a retry budget's reserve at its share of the fleet's.
#[derive(Debug)]
pub(crate) struct ReserveShare {
    pub(crate) shared: Weak<Shared>,
    /// The fleet's reserve, retries per second.
    pub(crate) per_sec: u32,
    /// Keeps the fleet's sync running as long as this budget lives.
    pub(crate) _fleet: crate::fleet::Fleet,
}

impl ReserveShare {
    fn share(&self, live: u32) {
        if let Some(shared) = self.shared.upgrade() {
            shared
                .budget
                .set_reserve_rate(f64::from(self.per_sec) / f64::from(live.max(1)));
        }
    }
}

impl Participant for ReserveShare {
    fn command(&self, _: &str) -> Option<redis::Cmd> {
        None // the live count is all it needs
    }

    fn reply(&self, _: redis::Value, live: u32) {
        self.share(live);
    }

    fn away(&self, live: u32) {
        self.share(live);
    }
}

impl<C, H, R> Builder<C, H, R> {
    /// Makes the budget the whole fleet's (feature `redis`): the share of requests that
    /// may be retried is already counted over each instance's own requests, so the
    /// fleet's retries stay within that share of all its requests; the reserve of
    /// retries a second is divided among the live instances, so that the fleet together
    /// keeps it, however many instances there are. (A gRPC throttle stays per instance.)
    ///
    /// ```no_run
    /// use seawall::fleet::Fleet;
    /// use seawall::retry::RetryLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), seawall::ConfigError> {
    /// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("shop").start()?;
    /// let layer = RetryLayer::builder().fleet(&fleet).build()?;
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fleet(mut self, fleet: &crate::fleet::Fleet) -> Self {
        self.settings.fleet = Some(fleet.clone());
        self
    }
}
