//! What every service of one chaos layer shares: the switch, the draws, the faults in
//! flight, and the counts of what was injected.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};

use super::config::Settings;
use crate::random::Draws;
use crate::telemetry::{Meter, names::CHAOS_INJECTED};
use crate::time::Epoch;

/// The fault chosen for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Run the call as it is.
    None,
    /// Answer with the injected outcome.
    Outcome,
    /// Delay the call, then run it.
    Latency,
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
    pub(crate) active: AtomicU32,
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
        let fault = if s.outcome_rate > 0.0 && self.draws.unit() < s.outcome_rate {
            Fault::Outcome
        } else if s.latency_rate > 0.0 && self.draws.unit() < s.latency_rate {
            Fault::Latency
        } else {
            return Fault::None;
        };
        // Taken only if under the cap; given back by the call's `Slot`.
        let taken = self
            .active
            .fetch_update(AcqRel, Acquire, |n| (n < s.max_active).then_some(n + 1));
        if taken.is_err() {
            return Fault::None;
        }
        if fault == Fault::Latency {
            self.delays.fetch_add(1, Relaxed);
            self.meter.counter(CHAOS_INJECTED, &[("kind", "latency")]);
        }
        fault
    }

    /// Counts an injected outcome.
    pub(crate) fn outcome_injected(&self) {
        self.outcomes.fetch_add(1, Relaxed);
        self.meter.counter(CHAOS_INJECTED, &[("kind", "outcome")]);
    }
}

/// One injected fault's place under the cap, given back when the call ends or is
/// dropped.
#[derive(Debug)]
pub(crate) struct Slot(pub(crate) Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, AcqRel);
    }
}
