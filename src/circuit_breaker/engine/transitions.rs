//! Opening, closing and forcing the breaker, each one compare-and-swap of the state word;
//! the open duration with its backoff and jitter, and the timer that ends it.

use std::sync::atomic::Ordering::*;
use std::time::Duration;

use super::Engine;
use crate::circuit_breaker::events::{self, By};
use crate::circuit_breaker::window::Tally;
use crate::circuit_breaker::word::*;

impl Engine {
    /// Opens the breaker if it is still in the state `word`. Returns whether this caller
    /// made the transition.
    #[cold]
    pub(super) fn trip(&self, word: u64, tally: Option<Tally>) -> bool {
        self.trip_finishing(word, tally, None, By::Local)
    }

    /// Opens the breaker if it is closed, on outside evidence. Returns whether it did.
    #[cold]
    pub(crate) fn trip_closed(&self) -> bool {
        let word = self.state.load(Acquire);
        mode(word) == CLOSED && self.trip(pack(CLOSED, generation(word), 0), None)
    }

    /// [`trip`](Self::trip), made by the result of the probe `probe`, if one, on the
    /// evidence of `by`.
    pub(super) fn trip_finishing(
        &self,
        word: u64,
        tally: Option<Tally>,
        probe: Option<Admission>,
        by: By,
    ) -> bool {
        // A breaker of a group opens only within the group's share, held across the
        // change so that two cannot both take the last place.
        let group = match self.group.get() {
            Some(group) if mode(word) == CLOSED => match group.admit(self) {
                Some(held) => Some(held),
                None => return false,
            },
            _ => None,
        };
        let trips = self.trips_after_decay();
        let mut open_for = self.open_duration(trips);
        if let Some(probe) = probe
            && probe.started() != 0
            && self.settings().steady_probing
        {
            // Steady probing: the next probe follows this one's start by the open
            // duration, however long this one took to fail.
            open_for = open_for.saturating_sub(took_at_least(&self.epoch, probe.started()));
        }
        let until = self.epoch.millis_after(open_for);
        let next = pack(OPEN, generation(word) + 1, until);
        let opened = self.transition(word, next, u64::from(probe.is_some()));
        drop(group);
        if !opened {
            return false;
        }
        self.trips.fetch_add(1, AcqRel);
        events::opened(self, State::from_mode(mode(word)), tally, open_for, by);
        self.arm(next, until);
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.fleet.get() {
            fleet.opened(generation(next));
        }
        true
    }

    /// The probes closed the breaker: the backoff forgets its trips, at once or, with a
    /// decay, one per decay period the breaker stays closed (counted at the next trip).
    pub(super) fn closed_healthy(&self) {
        if self.settings().open.decay.is_some() {
            self.healthy_since
                .store(self.epoch.elapsed_millis(), Release);
        } else {
            self.trips.store(0, Release);
        }
    }

    /// The trips the backoff counts for an opening now: those of a decaying backoff
    /// less one per decay period since the last healthy close.
    pub(super) fn trips_after_decay(&self) -> u32 {
        // Taken first, so that of two openings at once only one applies the decay; a
        // reset meanwhile (trips set to 0) is kept by taking the smaller count.
        let since = self.healthy_since.swap(u64::MAX, AcqRel);
        let trips = self.trips.load(Acquire);
        if since == u64::MAX || trips == 0 {
            return trips;
        }
        let left = match self.settings().open.decay {
            Some(decay) => {
                let closed = self.epoch.elapsed_millis().saturating_sub(since);
                let forgotten = closed / crate::time::ceil_millis(decay).max(1);
                u64::from(trips).saturating_sub(forgotten) as u32
            }
            // The decay was turned off since that close: it forgets them all, as a
            // close without decay does.
            None => 0,
        };
        self.trips.fetch_min(left, AcqRel);
        left
    }

    /// Sets the timer that ends the open period of the word `open` at `until`.
    pub(super) fn arm(&self, open: u64, until: u64) {
        if self.tunables.open_timer() {
            self.alarm.arm(self, open, self.epoch.at_millis(until));
        }
    }

    /// The alarm of the armed word `armed` rang: back to plain open, if still armed.
    pub(crate) fn disarm(&self, armed: u64) {
        self.swap_word(armed, with_mode(armed, OPEN));
    }

    /// The open duration after `trips` earlier trips without a healthy close.
    ///
    /// With jitter `j`, drawn evenly from `[d(1 - j), d(1 + j)]` around the capped
    /// duration `d`, the top cut to the cap: at the cap the spread is all below it, and
    /// no duration is more likely than its neighbours (clamping after the draw would
    /// pile up draws on the cap, so breakers opened together would probe together).
    pub(crate) fn open_duration(&self, trips: u32) -> Duration {
        let o = self.settings().open;
        let grown = o.base.as_secs_f64() * o.multiplier.powi(trips.min(1024) as i32);
        let max = o.max.as_secs_f64();
        let capped = grown.min(max);
        let secs = if o.jitter > 0.0 {
            crate::random::proportional(capped, o.jitter, max, self.draws.unit())
        } else {
            capped
        };
        Duration::from_secs_f64(secs.clamp(0.0, max))
    }

    /// Moves to a manual state. Entering a counting state starts an empty window.
    /// `Closed` always starts afresh (empty window, backoff reset); another state the
    /// breaker is already in is left as it is. A transition is reported only when the
    /// state changes.
    pub(crate) fn force(&self, to: State) {
        let target = match to {
            State::Closed => CLOSED,
            State::MetricsOnly => METRICS_ONLY,
            State::ForcedOpen => FORCED_OPEN,
            State::Disabled => DISABLED,
            State::Open | State::HalfOpen => unreachable!("not a manual state"),
        };
        let mut word = self.state.load(Acquire);
        loop {
            let from = State::from_mode(mode(word));
            if from == to && target != CLOSED {
                return;
            }
            let next = pack(target, generation(word) + 1, 0);
            if self.transition(word, next, 0) {
                if matches!(target, CLOSED | METRICS_ONLY) {
                    self.reset_window(generation(next));
                }
                if target == CLOSED {
                    self.trips.store(0, Release);
                    self.healthy_since.store(u64::MAX, Release);
                }
                if from != to {
                    events::transition(self, from, to, None);
                }
                return;
            }
            word = self.state.load(Acquire);
        }
    }

    /// Empties the window for the counting state of generation `generation`, entered just
    /// now. Two transitions can enter counting states back to back and reset at once;
    /// their resets are serialized, and one whose generation the breaker has already
    /// left is skipped (a later reset, or none needed, follows it), so a late reset never
    /// overwrites a newer generation's window. No comparison of generations on their
    /// 21-bit circle is involved, so this holds however many have passed.
    pub(super) fn reset_window(&self, generation: u64) {
        let _serial = self
            .resets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if crate::circuit_breaker::word::generation(self.state.load(Acquire)) == generation {
            self.window.reset(generation);
            self.run.reset(generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::circuit_breaker::CircuitBreakerLayer;
    use crate::classify::Outcome;

    #[test]
    fn a_window_reset_for_a_generation_the_breaker_has_left_changes_nothing() {
        let layer = CircuitBreakerLayer::builder()
            .count_window(4)
            .confidence(None)
            .build()
            .unwrap();
        let engine = layer.engine();
        let permit = engine.admit().unwrap();
        engine.complete(permit, Outcome::Failure);
        assert_eq!(engine.tally().failures, 1);
        // A late reset of another generation (a transition overtaken by a later one).
        engine.reset_window(7);
        assert_eq!(engine.tally().failures, 1, "the current window is kept");
        engine.reset_window(0);
        assert_eq!(
            engine.tally().failures,
            0,
            "its own generation's reset empties it"
        );
    }
}
