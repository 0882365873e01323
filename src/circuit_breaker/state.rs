//! The breaker's engine: admission, recording and every transition, as compare-and-swaps
//! on the state word ([`word`](super::word)) plus the closed-state window.
//!
//! Every transition is one compare-and-swap that bumps the generation, so exactly one
//! caller wins it, and results of calls admitted under an older generation are ignored.
//! Admission in the closed state is one atomic load; recording a success into a healthy
//! count window is two more loads and no write.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::alarm::{Alarm, Valve};
use super::config::Shape;
use super::events::{self, Listener};
use super::settings::{Settings, Tunables};
use super::window::{ConsecutiveWindow, Sample, Tally, Window, percent};
use crate::classify::Outcome;
use crate::random::Draws;
use crate::rejection::{Reason, Rejected};
use crate::telemetry::Meter;
use crate::time::{Epoch, Stamp, ceil_millis};

use super::word::*;

/// The probe slots of a half-open breaker.
enum Slots {
    /// Room for another probe; what the word holds.
    Free(Probes),
    /// Every slot taken: a call is refused.
    Full,
    /// Every slot taken for longer than the maximum wait: the breaker opens again.
    Expired,
}

/// Shared by every service and handle of one breaker.
#[derive(Debug)]
pub(crate) struct Engine {
    state: AtomicU64,
    window: Window,
    /// Failures in a row while closed, for judging by evidence.
    run: ConsecutiveWindow,
    /// Serializes window resets (transitions only, never a call): see
    /// [`reset_window`](Self::reset_window).
    resets: std::sync::Mutex<()>,
    /// `generation | ms since epoch` when the current half-open period began.
    half_open_since: AtomicU64,
    /// Trips since the last healthy close; drives the open-duration backoff.
    trips: AtomicU32,
    /// Probes admitted in earlier half-open periods that are still running: they keep
    /// their slots until they finish or are dropped. Read as signed (see
    /// [`earlier_probes`](Self::earlier_probes)).
    earlier_probes: AtomicU64,
    draws: Draws,
    epoch: Epoch,
    /// The epoch as a [`Stamp`], to turn an open period's end into one without a clock.
    epoch_stamp: i64,
    /// The timer that ends the current open period.
    alarm: Alarm,
    /// This engine, for the alarm's waker (which must not keep it alive).
    me: Weak<Engine>,
    name: Arc<str>,
    shape: Shape,
    tunables: Tunables,
    listener: Option<Listener>,
    meter: Meter,
}

impl Engine {
    pub(crate) fn new(
        name: Arc<str>,
        settings: Settings,
        shape: Shape,
        seed: u64,
        listener: Option<Listener>,
        me: Weak<Engine>,
    ) -> Self {
        let epoch = Epoch::now();
        Engine {
            state: AtomicU64::new(pack(CLOSED, 0, 0)),
            window: shape.window(),
            run: ConsecutiveWindow::new(),
            resets: std::sync::Mutex::new(()),
            half_open_since: AtomicU64::new(0),
            trips: AtomicU32::new(0),
            earlier_probes: AtomicU64::new(0),
            draws: Draws::new(seed),
            epoch,
            epoch_stamp: epoch.stamp(),
            alarm: Alarm::default(),
            me,
            shape,
            tunables: Tunables::new(&settings),
            listener,
            meter: Meter::new("circuit_breaker", &name),
            name,
        }
    }

    pub(crate) fn meter(&self) -> &Meter {
        &self.meter
    }

    pub(crate) fn listener(&self) -> Option<&Listener> {
        self.listener.as_ref()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The current settings (a consistent copy of each field, read field by field).
    pub(crate) fn settings(&self) -> Settings {
        self.tunables.load()
    }

    /// Slow-call detection: when set, a call reads the clock as it starts and ends.
    #[inline]
    pub(crate) fn slow_call_duration(&self) -> Option<Duration> {
        self.tunables.slow_call_duration()
    }

    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// Replaces the settings; the window's shape must stay the same.
    pub(crate) fn reload(&self, settings: &Settings, shape: Shape) -> Result<(), Shape> {
        if shape != self.shape {
            return Err(self.shape);
        }
        self.tunables.store(settings);
        Ok(())
    }

    /// Decides whether a call may run.
    #[inline]
    pub(crate) fn admit(&self) -> Result<Permit, Rejected> {
        let word = self.state.load(Acquire);
        if mode(word) == CLOSED && self.slow_call_duration().is_none() {
            return Ok(Permit::of(word, 0));
        }
        if mode(word) == ARMED && Valve::skip_clock() {
            self.meter.rejected(Reason::CircuitOpen);
            return Err(self.open_rejection(word));
        }
        self.admit_other(word)
    }

    fn admit_other(&self, word: u64) -> Result<Permit, Rejected> {
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
    fn stamp(&self, word: u64) -> Permit {
        let timed = self.slow_call_duration().is_some() || mode(word) == HALF_OPEN;
        Permit::of(word, if timed { start_ms(&self.epoch) } else { 0 })
    }

    #[cold]
    fn admit_slow(&self, word: u64) -> Result<Permit, Rejected> {
        let result = self.admit_contended(word);
        if let Err(rejection) = &result {
            self.meter.rejected(rejection.reason());
        }
        result
    }

    fn admit_contended(&self, mut word: u64) -> Result<Permit, Rejected> {
        loop {
            let next = match mode(word) {
                CLOSED | METRICS_ONLY | DISABLED => return Ok(Permit::of(word, 0)),
                FORCED_OPEN => return Err(Rejected::new(Reason::CircuitForcedOpen, None)),
                OPEN | ARMED => {
                    if self.still_open(word) {
                        return Err(self.open_rejection(word));
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
                            tracing::warn!(
                                target: events::TARGET,
                                breaker = self.name(),
                                running = self.earlier_probes(),
                                "probes of earlier half-open periods still hold every slot; \
                                 give calls an attempt timeout or a deadline"
                            );
                            return Err(Rejected::new(Reason::HalfOpenSaturated, None));
                        }
                    }
                    return Ok(Permit::of(next, 0));
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
    fn open_rejection(&self, word: u64) -> Rejected {
        let until_ns = (word & PAYLOAD_MASK) * 1_000_000; // < 2^40 ms: fits
        let until = self
            .epoch_stamp
            .saturating_add(i64::try_from(until_ns).unwrap_or(i64::MAX));
        Rejected::open_until(Stamp(until))
    }

    fn half_open_expired(&self, word: u64) -> bool {
        let since = self.half_open_since.load(Acquire);
        if since >> GEN_SHIFT != generation(word) {
            return false; // the stamp of this period is not written yet
        }
        // `since` is the period's start rounded up and the clock reads rounded down, so
        // `waited` never exceeds the time really waited.
        let started = since & PAYLOAD_MASK;
        let waited = self.epoch.elapsed_millis().saturating_sub(started);
        waited >= ceil_millis(self.settings().max_wait_in_half_open)
    }

    /// Records the end of an admitted call.
    #[inline]
    pub(crate) fn complete(&self, permit: Permit, outcome: Outcome) {
        let untimed_closed_success =
            outcome == Outcome::Success && mode(permit.word()) == CLOSED && permit.started() == 0;
        if untimed_closed_success
            && self
                .window
                .success_changes_nothing(generation(permit.word()))
        {
            self.meter.call(outcome);
            return;
        }
        self.record(permit, outcome);
    }

    fn record(&self, permit: Permit, outcome: Outcome) {
        self.meter.call(outcome);
        let slow = match self.slow_call_duration() {
            Some(limit) if permit.started() != 0 => {
                took_at_least(&self.epoch, permit.started()) >= limit
            }
            _ => false,
        };
        if outcome == Outcome::Ignored {
            return self.abandon(permit);
        }
        let sample = Sample {
            failure: outcome == Outcome::Failure,
            slow,
        };
        match mode(permit.word()) {
            CLOSED | METRICS_ONLY => {
                let now = if self.window.needs_clock() {
                    self.epoch.elapsed_millis()
                } else {
                    0
                };
                let admitted = generation(permit.word());
                let run = self.run.record(
                    admitted,
                    Sample {
                        slow: false,
                        ..sample
                    },
                );
                if let Some(tally) = self.window.record(admitted, sample, now)
                    && mode(permit.word()) == CLOSED
                    && self.should_trip(&tally, run.map_or(0, |r| r.failures))
                {
                    // The closed state's word: a permit's payload is its own.
                    let closed = pack(CLOSED, generation(permit.word()), 0);
                    self.trip(closed, Some(tally));
                }
            }
            HALF_OPEN => self.complete_probe(permit, sample),
            _ => {}
        }
    }

    /// Gives back what an unfinished (dropped) or ignored call held: a probe slot.
    #[inline]
    pub(crate) fn abandon(&self, permit: Permit) {
        if permit.is_probe() {
            self.abandon_probe(permit);
        }
    }

    #[cold]
    fn abandon_probe(&self, permit: Permit) {
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

    /// Empties the window for the counting state of generation `generation`, entered just
    /// now. Two transitions can enter counting states back to back and reset at once;
    /// their resets are serialized, and one whose generation the breaker has already
    /// left is skipped (a later reset, or none needed, follows it), so a late reset never
    /// overwrites a newer generation's window. No comparison of generations on their
    /// 21-bit circle is involved, so this holds however many have passed.
    fn reset_window(&self, generation: u64) {
        let _serial = self
            .resets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if super::word::generation(self.state.load(Acquire)) == generation {
            self.window.reset(generation);
            self.run.reset(generation);
        }
    }

    /// Probes of earlier half-open periods still running.
    fn earlier_probes(&self) -> u64 {
        (self.earlier_probes.load(Acquire) as i64).max(0) as u64
    }

    /// Replaces the state word `from` with `to`, if it is still `from`. Leaving a
    /// half-open period carries its probes that are still running, except `finishing`
    /// (the probe whose result makes this change), into the earlier probes; they are
    /// added before the change, so they are never missing from the count.
    fn transition(&self, from: u64, to: u64, finishing: u64) -> bool {
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

    /// Whether the window's `tally` and the current `run` of failures open the breaker.
    fn should_trip(&self, tally: &Tally, run: u64) -> bool {
        let s = self.settings();
        if let Some(limit) = s.consecutive_failures {
            return tally.failures >= limit;
        }
        let enough = tally.calls >= s.minimum_calls;
        match s.evidence {
            None => {
                enough
                    && (tally.failure_rate() >= s.failure_rate_threshold
                        || tally.slow_rate() >= s.slow_call_rate_threshold)
            }
            Some(e) => {
                let run_counts = !s.minimum_set || tally.calls >= s.minimum_calls;
                (run_counts && e.run_convinces(run, s.failure_rate_threshold))
                    || (enough
                        && (e.rate_convinces(
                            tally.failures,
                            tally.calls,
                            s.failure_rate_threshold,
                        ) || e.rate_convinces(
                            tally.slow,
                            tally.calls,
                            s.slow_call_rate_threshold,
                        )))
            }
        }
    }

    #[cold]
    fn complete_probe(&self, permit: Permit, sample: Sample) {
        let s = self.settings();
        let n = s.half_open_calls;
        let mut word = self.state.load(Acquire);
        while mode(word) == HALF_OPEN && generation(word) == generation(permit.word()) {
            let mut p = Probes::unpack(word);
            p.done += 1;
            p.failures += u64::from(sample.failure);
            p.slow += u64::from(sample.slow);
            let open = percent(p.failures, n) >= s.failure_rate_threshold
                || percent(p.slow, n) >= s.slow_call_rate_threshold;
            let pending = n.saturating_sub(p.done);
            let close = percent(p.failures + pending, n) < s.failure_rate_threshold
                && percent(p.slow + pending, n) < s.slow_call_rate_threshold;
            let tally = Tally {
                calls: p.done,
                failures: p.failures,
                slow: p.slow,
            };
            if open {
                if self.trip_finishing(word, Some(tally), Some(permit)) {
                    return;
                }
            } else if close {
                let next = pack(CLOSED, generation(word) + 1, 0);
                if self.transition(word, next, 1) {
                    self.reset_window(generation(next));
                    self.trips.store(0, Release);
                    events::transition(self, State::HalfOpen, State::Closed, Some(tally));
                    return;
                }
            } else {
                let next = pack(HALF_OPEN, generation(word), p.pack());
                if self
                    .state
                    .compare_exchange(word, next, AcqRel, Acquire)
                    .is_ok()
                {
                    return;
                }
            }
            word = self.state.load(Acquire);
        }
        // Its period is over: the probe was carried into the earlier ones.
        self.earlier_probes.fetch_sub(1, AcqRel);
    }

    /// Opens the breaker if it is still in the state `word`. Returns whether this caller
    /// made the transition.
    #[cold]
    fn trip(&self, word: u64, tally: Option<Tally>) -> bool {
        self.trip_finishing(word, tally, None)
    }

    /// [`trip`](Self::trip), made by the result of the probe `probe`, if one.
    fn trip_finishing(&self, word: u64, tally: Option<Tally>, probe: Option<Permit>) -> bool {
        let trips = self.trips.load(Acquire);
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
        if !self.transition(word, next, u64::from(probe.is_some())) {
            return false;
        }
        self.trips.fetch_add(1, AcqRel);
        events::opened(self, State::from_mode(mode(word)), tally, open_for);
        if self.tunables.open_timer() {
            self.alarm.arm(self, next, self.epoch.at_millis(until));
        }
        true
    }

    /// Replaces the state word `from` with `to`, if it is still `from`.
    pub(crate) fn swap_word(&self, from: u64, to: u64) -> bool {
        self.state
            .compare_exchange(from, to, AcqRel, Acquire)
            .is_ok()
    }

    /// The alarm of the armed word `armed` rang: back to plain open, if still armed.
    pub(crate) fn disarm(&self, armed: u64) {
        self.swap_word(armed, with_mode(armed, OPEN));
    }

    #[cfg(test)]
    pub(crate) fn word(&self) -> u64 {
        self.state.load(Acquire)
    }

    /// A reference to this engine that does not keep it alive.
    pub(crate) fn me(&self) -> Weak<Engine> {
        self.me.clone()
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
            let low = capped * (1.0 - o.jitter);
            let high = (capped * (1.0 + o.jitter)).min(max);
            low + (high - low) * self.draws.unit()
        } else {
            capped
        };
        Duration::from_secs_f64(secs.clamp(0.0, max))
    }

    pub(crate) fn state(&self) -> State {
        State::from_mode(mode(self.state.load(Acquire)))
    }

    /// What the breaker has counted: the window while closed, the probes while
    /// half-open, and the last closed window otherwise.
    pub(crate) fn tally(&self) -> Tally {
        let word = self.state.load(Acquire);
        if mode(word) == HALF_OPEN {
            let p = Probes::unpack(word);
            return Tally {
                calls: p.done,
                failures: p.failures,
                slow: p.slow,
            };
        }
        let now = if self.window.needs_clock() {
            self.epoch.millis_since(Instant::now())
        } else {
            0
        };
        self.window.tally(now)
    }

    /// The time left open: what a call rejected now would be told.
    pub(crate) fn remaining_open(&self) -> Option<Duration> {
        let word = self.state.load(Acquire);
        matches!(mode(word), OPEN | ARMED)
            .then(|| self.open_rejection(word).retry_after())
            .flatten()
    }

    pub(crate) fn consecutive_trips(&self) -> u32 {
        self.trips.load(Acquire)
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
                }
                if from != to {
                    events::transition(self, from, to, None);
                }
                return;
            }
            word = self.state.load(Acquire);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::CircuitBreakerLayer;
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
