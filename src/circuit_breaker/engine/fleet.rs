//! What a fleet (feature `redis`) does to one instance's breaker, each one
//! compare-and-swap of the state word like every other transition: open it for the
//! fleet's period, judge the fleet's calls, hold its probes back while another instance
//! probes, and close it when that instance's probes have succeeded.
//!
//! A change here returns the generation it made where the fleet's part needs it (to
//! end a hold it asked the token for). Only openings this instance judged (its own
//! calls, or the fleet's it judged itself) are published; they are told apart by their
//! generation, handed to the fleet's part when they are made.

use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::Duration;

use super::Engine;
use crate::circuit_breaker::events::{self, By};
use crate::circuit_breaker::window::Tally;
use crate::circuit_breaker::word::*;
use crate::rejection::Rejected;

/// What a half-open breaker of a fleet did at a sync
/// ([`half_open_at_sync`](Engine::half_open_at_sync)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtSync {
    /// Not half-open: nothing to do.
    NotHalfOpen,
    /// Its probes may still give a verdict: it keeps the probe token.
    Probing,
    /// No probe ran for a while: it stepped back to open, as this generation.
    SteppedBack(u64),
    /// Its probes hung past the maximum wait in half-open: it opened again.
    Reopened,
}

impl Engine {
    /// Opens a closed breaker for `open_for` because the fleet's is open, or moves the
    /// end of an open one later to the fleet's. The opening does not count toward the
    /// backoff (this instance did not judge it). Returns the generation it made.
    #[cold]
    pub(crate) fn open_for_fleet(&self, open_for: Duration) -> Option<u64> {
        let word = self.state.load(Acquire);
        let until = self.epoch.millis_after(open_for);
        match mode(word) {
            CLOSED => {
                // A breaker of a group follows the fleet only within the group's share.
                let group = match self.group.get() {
                    Some(group) => Some(group.admit(self)?),
                    None => None,
                };
                let next = pack(OPEN, generation(word) + 1, until);
                let opened = self.transition(word, next, 0);
                drop(group);
                if !opened {
                    return None;
                }
                // Settles a decaying backoff now: the closed time ends here.
                self.trips_after_decay();
                events::opened(self, State::Closed, None, open_for, By::Fleet);
                self.arm(next, until);
                Some(generation(next))
            }
            OPEN | ARMED if word & PAYLOAD_MASK < until => self.move_open_end(word, until),
            _ => None,
        }
    }

    /// Judges the fleet's calls (`tally`, and the failures in a row at its newest end,
    /// `run`) as this breaker judges its own, and opens a closed breaker they convince.
    /// Returns whether it opened.
    #[cold]
    pub(crate) fn judge_fleet(&self, mut tally: Tally, run: u64) -> bool {
        let word = self.state.load(Acquire);
        if mode(word) != CLOSED {
            return false;
        }
        if self.settings().consecutive_failures.is_some() {
            tally.failures = run; // only failures in a row count
        }
        self.should_trip(&tally, run) && self.trip_finishing(word, Some(tally), None, By::Fleet)
    }

    /// The open period of `word` is over but another instance holds the fleet's probe
    /// token: stays open for `hold` more and tells the call so. `None` if the breaker
    /// moved on meanwhile; otherwise the rejection and the generation it made.
    #[cold]
    pub(super) fn hold_for_fleet(&self, word: u64, hold: Duration) -> Option<(Rejected, u64)> {
        let until = self.epoch.millis_after(hold);
        let next = self.move_open_end(word, until)?;
        Some((self.open_rejection(pack(OPEN, next, until)), next))
    }

    /// Ends a hold (the open period of generation `held`) now that this instance holds
    /// the probe token: the next call probes. Returns the generation it made.
    #[cold]
    pub(crate) fn end_hold_for_fleet(&self, held: u64) -> Option<u64> {
        let word = self.state.load(Acquire);
        if !matches!(mode(word), OPEN | ARMED) || generation(word) != held {
            return None;
        }
        self.move_open_end(word, self.epoch.elapsed_millis())
    }

    /// A half-open breaker, whose instance holds the fleet's probe token, at a sync of
    /// the fleet (`seen`: the state word at the last sync, updated here). It keeps the
    /// token while a probe (of this period or an earlier one) runs, for at most the
    /// maximum wait in half-open, then opens again as when a call finds every slot
    /// taken that long. With no probe running and nothing changed for a whole sync, it
    /// steps back to open for `hold` if another instance wants the token (`wanted`),
    /// so that one with calls probes; unwanted, it keeps waiting for its next call.
    #[cold]
    pub(crate) fn half_open_at_sync(
        &self,
        seen: &AtomicU64,
        wanted: bool,
        hold: Duration,
    ) -> AtSync {
        let word = self.state.load(Acquire);
        let previous = seen.swap(word, Relaxed);
        if mode(word) != HALF_OPEN {
            return AtSync::NotHalfOpen;
        }
        let probes = Probes::unpack(word);
        let running = probes.admitted.saturating_sub(probes.done) + self.earlier_probes();
        if running > 0 {
            if self.half_open_expired(word) && self.trip(word, None) {
                return AtSync::Reopened;
            }
            return AtSync::Probing;
        }
        if previous != word || !wanted {
            return AtSync::Probing; // probes came and went since the last sync, or no one waits
        }
        let until = self.epoch.millis_after(hold);
        let next = pack(OPEN, generation(word) + 1, until);
        if !self.transition(word, next, 0) {
            return AtSync::Probing; // moved on meanwhile: judged again at the next sync
        }
        seen.store(next, Relaxed);
        events::transition_by(self, State::HalfOpen, State::Open, None, By::Fleet);
        self.arm(next, until);
        AtSync::SteppedBack(generation(next))
    }

    /// Takes the fleet's count of trips in a row (`trips`, from the instance that
    /// opened the fleet's period) if it is higher than this breaker's, so that whichever
    /// instance probes next opens for as long as the fleet's backoff says. Only a
    /// breaker that follows the period (open or probing) takes it; returns whether.
    pub(crate) fn adopt_trips(&self, trips: u32) -> bool {
        if !matches!(mode(self.state.load(Acquire)), OPEN | ARMED | HALF_OPEN) {
            return false;
        }
        self.trips.fetch_max(trips, AcqRel);
        true
    }

    /// Closes an open breaker because the instance that probed for the fleet closed
    /// its own: the dependency answered its probes. Returns whether it closed.
    #[cold]
    pub(crate) fn close_for_fleet(&self) -> bool {
        let word = self.state.load(Acquire);
        if !matches!(mode(word), OPEN | ARMED) {
            return false;
        }
        let next = pack(CLOSED, generation(word) + 1, 0);
        if !self.transition(word, next, 0) {
            return false;
        }
        self.reset_window(generation(next));
        self.closed_healthy();
        events::transition_by(self, State::Open, State::Closed, None, By::Fleet);
        true
    }

    /// Moves the end of the open period of `word` to `until` (ms since the epoch), as a
    /// new generation with its own timer. Returns that generation.
    fn move_open_end(&self, word: u64, until: u64) -> Option<u64> {
        let next = pack(OPEN, generation(word) + 1, until);
        if !self.swap_word(word, next) {
            return None;
        }
        self.arm(next, until);
        Some(generation(next))
    }
}
