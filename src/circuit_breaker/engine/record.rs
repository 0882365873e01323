//! Judging a finished call: into the closed window and the run of failures (the
//! evidence a trip needs), or into the half-open probes' tally.

use std::sync::atomic::Ordering::*;

use super::Engine;
use crate::circuit_breaker::events::{self, By};
use crate::circuit_breaker::window::{Sample, Tally, percent};
use crate::circuit_breaker::word::*;
use crate::classify::Outcome;

impl Engine {
    /// Records the end of an admitted call.
    #[inline]
    pub(crate) fn complete(&self, permit: Admission, outcome: Outcome) {
        let untimed_closed_success =
            outcome == Outcome::Success && mode(permit.word()) == CLOSED && permit.started() == 0;
        if untimed_closed_success
            && self
                .window
                .success_changes_nothing(generation(permit.word()))
        {
            self.meter.call(outcome);
            self.count_for_fleet(Sample::default());
            return;
        }
        self.record(permit, outcome);
    }

    /// Adds a closed breaker's call to what the fleet is told at the next sync.
    #[inline(always)]
    fn count_for_fleet(&self, sample: Sample) {
        #[cfg(feature = "redis")]
        if let Some(fleet) = self.fleet.get() {
            fleet.count(sample);
        }
        #[cfg(not(feature = "redis"))]
        let _ = sample;
    }

    fn record(&self, permit: Admission, outcome: Outcome) {
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
                self.count_for_fleet(sample);
                #[cfg(feature = "balance")]
                if sample.failure {
                    self.failures_seen.fetch_add(1, Relaxed);
                }
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

    /// Whether the window's `tally` and the current `run` of failures open the breaker.
    pub(super) fn should_trip(&self, tally: &Tally, run: u64) -> bool {
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
    fn complete_probe(&self, permit: Admission, sample: Sample) {
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
                if self.trip_finishing(word, Some(tally), Some(permit), By::Local) {
                    return;
                }
            } else if close {
                let next = pack(CLOSED, generation(word) + 1, 0);
                if self.transition(word, next, 1) {
                    #[cfg(feature = "redis")]
                    self.closed_by_probes.store(generation(next), Release);
                    self.reset_window(generation(next));
                    self.closed_healthy();
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
}
