//! Whether a call may run: the closed fast path, the open period and its end, and the
//! probe slots of a half-open breaker, which probes of earlier periods still running
//! share with this period's.

use std::sync::atomic::Ordering::*;
use std::time::Duration;

use super::Engine;
use crate::circuit_breaker::alarm::Valve;
use crate::circuit_breaker::events;
use crate::circuit_breaker::word::*;
use crate::rejection::{Reason, Rejected};
use crate::time::{Stamp, ceil_millis};

/// The probe slots of a half-open breaker.
enum Slots {
    /// Room for another probe; what the word holds.
    Free(Probes),
    /// Every slot taken: a call is refused.
    Full,
    /// Every slot taken for longer than the maximum wait: the breaker opens again.
    Expired,
}

impl Engine {
    /// Decides whether a call may run.
    #[inline]
    pub(crate) fn admit(&self) -> Result<Admission, Rejected> {
        let word = self.state.load(Acquire);
        if mode(word) == CLOSED && self.slow_call_duration().is_none() {
            return Ok(Admission::of(word, 0));
        }
        if mode(word) == ARMED && Valve::skip_clock() {
            self.meter.rejected(Reason::CircuitOpen);
            return Err(self.open_rejection(word));
        }
        self.admit_other(word)
    }

    fn admit_other(&self, word: u64) -> Result<Admission, Rejected> {
        match mode(word) {
            CLOSED | METRICS_ONLY | DISABLED => Ok(self.stamp(word)),
            _ => self
                .admit_slow(word)
                .map(|permit| self.stamp(permit.word())),
        }
    }

    /// A permit for the state `word`, carrying the start time if calls are timed or it
    /// is a probe (steady probing times the next open period from a probe's start).
    #[inline]
    fn stamp(&self, word: u64) -> Admission {
        let timed = self.slow_call_duration().is_some() || mode(word) == HALF_OPEN;
        Admission::of(word, if timed { start_ms(&self.epoch) } else { 0 })
    }

    #[cold]
    fn admit_slow(&self, word: u64) -> Result<Admission, Rejected> {
        let result = self.admit_contended(word);
        if let Err(rejection) = &result {
            self.meter.rejected(rejection.reason());
        }
        result
    }

    fn admit_contended(&self, mut word: u64) -> Result<Admission, Rejected> {
        loop {
            let next = match mode(word) {
                CLOSED | METRICS_ONLY | DISABLED => return Ok(Admission::of(word, 0)),
                FORCED_OPEN => return Err(Rejected::new(Reason::CircuitForcedOpen, None)),
                OPEN | ARMED => {
                    if self.still_open(word) {
                        return Err(self.open_rejection(word));
                    }
                    #[cfg(feature = "redis")]
                    if let Some(fleet) = self.fleet.get()
                        && !fleet.may_probe()
                    {
                        // Another instance probes for the fleet: wait for its verdict.
                        match self.hold_for_fleet(word, fleet.hold()) {
                            Some((rejection, generation)) => {
                                fleet.held(generation);
                                return Err(rejection);
                            }
                            None => {
                                word = self.state.load(Acquire);
                                continue;
                            }
                        }
                    }
                    // Probes of earlier periods that still run may hold every slot: the
                    // period begins, but this call is refused.
                    let room = self.earlier_probes() < self.tunables.load().half_open_calls;
                    let probes = Probes {
                        admitted: u64::from(room),
                        ..Probes::default()
                    };
                    pack(HALF_OPEN, generation(word) + 1, probes.pack())
                }
                _ => match self.slots(word) {
                    Slots::Free(mut probes) => {
                        probes.admitted += 1;
                        pack(HALF_OPEN, generation(word), probes.pack())
                    }
                    Slots::Full => return Err(Rejected::new(Reason::HalfOpenSaturated, None)),
                    Slots::Expired => {
                        self.trip(word, None);
                        word = self.state.load(Acquire);
                        continue;
                    }
                },
            };
            match self.state.compare_exchange(word, next, AcqRel, Acquire) {
                Ok(_) => {
                    if matches!(mode(word), OPEN | ARMED) {
                        let since = self.epoch.millis_after(Duration::ZERO);
                        let stamp = generation(next) << GEN_SHIFT | since.min(PAYLOAD_MASK);
                        self.half_open_since.store(stamp, Release);
                        events::transition(self, State::Open, State::HalfOpen, None);
                        if Probes::unpack(next).admitted == 0 {
                            crate::telemetry::event!(
                                warn,
                                "circuit_breaker",
                                self.name(),
                                "probes_saturated",
                                running = self.earlier_probes(),
                                "probes of earlier half-open periods still hold every slot; \
                                 give calls an attempt timeout or a deadline"
                            );
                            return Err(Rejected::new(Reason::HalfOpenSaturated, None));
                        }
                    }
                    return Ok(Admission::of(next, 0));
                }
                Err(now) => word = now,
            }
        }
    }

    /// What a call would be told now if it is to be rejected, without admitting it or
    /// counting anything (for `poll_ready`, when the inner service is not ready). Like
    /// [`admit`](Self::admit), it opens the breaker again when every probe slot has been
    /// taken longer than the maximum wait in half-open.
    #[cold]
    pub(crate) fn would_reject(&self) -> Option<Rejected> {
        let mut word = self.state.load(Acquire);
        loop {
            return match mode(word) {
                FORCED_OPEN => Some(Rejected::new(Reason::CircuitForcedOpen, None)),
                ARMED if Valve::skip_clock() => Some(self.open_rejection(word)),
                OPEN | ARMED => self.still_open(word).then(|| self.open_rejection(word)),
                HALF_OPEN => match self.slots(word) {
                    Slots::Free(_) => None,
                    Slots::Full => Some(Rejected::new(Reason::HalfOpenSaturated, None)),
                    Slots::Expired => {
                        self.trip(word, None);
                        word = self.state.load(Acquire);
                        continue;
                    }
                },
                _ => None,
            };
        }
    }

    /// Whether the open period of the open (or armed) word `word` is still running.
    fn still_open(&self, word: u64) -> bool {
        self.epoch.elapsed_millis() < word & PAYLOAD_MASK
    }

    /// The probe slots of the half-open word `word`: probes of this period and those of
    /// earlier periods still running share them.
    fn slots(&self, word: u64) -> Slots {
        let probes = Probes::unpack(word);
        if probes.admitted + self.earlier_probes() < self.tunables.load().half_open_calls {
            Slots::Free(probes)
        } else if self.half_open_expired(word) {
            Slots::Expired
        } else {
            Slots::Full
        }
    }

    /// The rejection of a call while open (the word `word`): it carries the open
    /// period's end, worked out without reading the clock.
    #[inline]
    pub(super) fn open_rejection(&self, word: u64) -> Rejected {
        let until_ns = (word & PAYLOAD_MASK) * 1_000_000; // < 2^40 ms: fits
        let until = self
            .epoch_stamp
            .saturating_add(i64::try_from(until_ns).unwrap_or(i64::MAX));
        Rejected::open_until(Stamp(until))
    }

    pub(super) fn half_open_expired(&self, word: u64) -> bool {
        self.half_open_waited(word)
            .is_some_and(|waited| waited >= ceil_millis(self.settings().max_wait_in_half_open))
    }

    /// How long (ms) the half-open period of `word` has lasted; `None` while its start
    /// is not written yet. The start is rounded up and the clock reads rounded down, so
    /// this never exceeds the time really waited.
    pub(super) fn half_open_waited(&self, word: u64) -> Option<u64> {
        let since = self.half_open_since.load(Acquire);
        (since >> GEN_SHIFT == generation(word)).then(|| {
            self.epoch
                .elapsed_millis()
                .saturating_sub(since & PAYLOAD_MASK)
        })
    }

    /// Gives back what an unfinished (dropped) or ignored call held: a probe slot.
    #[inline]
    pub(crate) fn abandon(&self, permit: Admission) {
        if permit.is_probe() {
            self.abandon_probe(permit);
        }
    }

    #[cold]
    fn abandon_probe(&self, permit: Admission) {
        let mut word = self.state.load(Acquire);
        while mode(word) == HALF_OPEN && generation(word) == generation(permit.word()) {
            let mut probes = Probes::unpack(word);
            probes.admitted = probes.admitted.saturating_sub(1);
            let next = pack(HALF_OPEN, generation(word), probes.pack());
            match self.state.compare_exchange(word, next, AcqRel, Acquire) {
                Ok(_) => return,
                Err(now) => word = now,
            }
        }
        // Its period is over: the probe was carried into the earlier ones.
        self.earlier_probes.fetch_sub(1, AcqRel);
    }

    /// Probes of earlier half-open periods still running.
    pub(super) fn earlier_probes(&self) -> u64 {
        (self.earlier_probes.load(Acquire) as i64).max(0) as u64
    }

    /// Replaces the state word `from` with `to`, if it is still `from`. Leaving a
    /// half-open period carries its probes that are still running, except `finishing`
    /// (the probe whose result makes this change), into the earlier probes; they are
    /// added before the change, so they are never missing from the count.
    pub(super) fn transition(&self, from: u64, to: u64, finishing: u64) -> bool {
        if mode(from) != HALF_OPEN {
            return self.swap_word(from, to);
        }
        let p = Probes::unpack(from);
        let running = p.admitted.saturating_sub(p.done + finishing);
        self.earlier_probes.fetch_add(running, AcqRel);
        let swapped = self.swap_word(from, to);
        if !swapped {
            self.earlier_probes.fetch_sub(running, AcqRel);
        }
        swapped
    }
}
