//! The throttle's shared state: the window, the formula, and a seeded random draw.

use std::sync::Arc;

use crate::classify::Outcome;
use crate::random::Draws;
use crate::rejection::RejectedBy;
use crate::telemetry::Meter;

use super::window::{Counts, Window};
use crate::time::Epoch;

#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) k: f64,
    pub(crate) max_reject_probability: f64,
    pub(crate) bucket_ms: u64,
}

#[derive(Debug)]
pub(crate) struct Throttler {
    pub(crate) settings: Settings,
    epoch: Epoch,
    window: Window,
    draws: Draws,
    meter: Meter,
}

impl Throttler {
    pub(crate) fn new(settings: Settings, buckets: u32, seed: u64) -> Self {
        Throttler {
            meter: Meter::new(
                RejectedBy::Throttle.as_str(),
                &Arc::from(settings.name.as_str()),
            ),
            settings,
            epoch: Epoch::now(),
            window: Window::new(buckets),
            draws: Draws::new(seed),
        }
    }

    /// The bucket index of now.
    pub(crate) fn now_index(&self) -> u64 {
        self.epoch.elapsed_millis() / self.settings.bucket_ms
    }

    pub(crate) fn counts(&self) -> Counts {
        self.window.counts(self.now_index())
    }

    /// `max(0, (requests − K·accepts) / (requests + 1))`, capped.
    pub(crate) fn probability(&self, counts: Counts) -> f64 {
        let requests = counts.requests as f64;
        let excess = requests - self.settings.k * counts.accepts as f64;
        (excess / (requests + 1.0)).clamp(0.0, self.settings.max_reject_probability)
    }

    /// Whether to let a call through now; a call rejected here counts as a request.
    #[inline]
    pub(crate) fn admit(&self) -> bool {
        let index = self.now_index();
        let p = self.probability(self.window.counts(index));
        if p <= 0.0 || self.draws.unit() >= p {
            return true;
        }
        self.window.record(index, false);
        self.meter.rejected(crate::Reason::Throttled);
        false
    }

    /// Records a finished call the backend saw.
    pub(crate) fn record(&self, accepted: bool) {
        let outcome = if accepted {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        self.meter.call(outcome);
        self.window.record(self.now_index(), accepted);
    }
}
