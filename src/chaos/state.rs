//! What every service of one chaos layer shares: the switch, the draws, the faults in
//! flight, and the counts of what was injected.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

use super::config::Settings;
use crate::cap::{Cap, Place};
use crate::random::Draws;
use crate::telemetry::{Meter, names::CHAOS_INJECTED};
use crate::time::Epoch;

/// The fault chosen for one call, with its place under the cap of faults in flight.
#[derive(Debug)]
pub(crate) enum Fault {
    /// Run the call as it is.
    None,
    /// Answer with the injected outcome.
    Outcome(Place),
    /// Delay the call, then run it.
    Latency(Place),
}

pub(crate) type Behaviour = Arc<dyn Fn() + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) enabled: AtomicBool,
    pub(crate) settings: Settings,
    pub(crate) draws: Draws,
    pub(crate) epoch: Epoch,
    pub(crate) behaviour: Option<Behaviour>,
    /// Injected faults in flight (delays and outcomes not yet taken).
    pub(crate) active: Arc<Cap>,
    pub(crate) outcomes: AtomicU64,
    pub(crate) delays: AtomicU64,
    pub(crate) behaviours: AtomicU64,
    pub(crate) meter: Meter,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("settings", &self.settings)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The fault for a call the layer may touch (switched on, selected): in a burst if
    /// bursts are set, under the cap of faults in flight, by independent draws for the
    /// behaviour, the outcome and the latency. Runs the behaviour if drawn.
    pub(crate) fn choose(&self) -> Fault {
        let s = &self.settings;
        if let Some((every, lasting)) = s.bursts
            && self.epoch.elapsed_millis() % every >= lasting
        {
            return Fault::None;
        }
        if s.behaviour_rate > 0.0
            && self.draws.unit() < s.behaviour_rate
            && let Some(behaviour) = &self.behaviour
        {
            self.behaviours.fetch_add(1, Relaxed);
            self.meter.counter(CHAOS_INJECTED, &[("kind", "behaviour")]);
            behaviour();
        }
        let outcome = s.outcome_rate > 0.0 && self.draws.unit() < s.outcome_rate;
        let latency = !outcome && s.latency_rate > 0.0 && self.draws.unit() < s.latency_rate;
        if !outcome && !latency {
            return Fault::None;
        }
        // Only under the cap; the call's place gives it back.
        let Some(place) = self.active.try_take() else {
            return Fault::None;
        };
        if outcome {
            return Fault::Outcome(place);
        }
        self.delays.fetch_add(1, Relaxed);
        self.meter.counter(CHAOS_INJECTED, &[("kind", "latency")]);
        Fault::Latency(place)
    }

    /// Counts an injected outcome.
    pub(crate) fn outcome_injected(&self) {
        self.outcomes.fetch_add(1, Relaxed);
        self.meter.counter(CHAOS_INJECTED, &[("kind", "outcome")]);
    }
}
