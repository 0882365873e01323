//! Model checks of the breaker's lock-free state (`RUSTFLAGS="--cfg seawall_loom" cargo
//! test --lib models`): the state word with its probe slots, and the three windows.
//!
//! Invariants: at most `half_open_calls` probes run at once; a probe that is dropped,
//! fails or is overtaken by a forced state gives its slot back exactly once (the next
//! half-open period has every slot, and no more); a forced state wins over a trip; a
//! window's counts are exactly the samples of its generation (never negative, never a
//! straggler's).

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use loom::sync::atomic::AtomicUsize;
use loom::thread;

use super::engine::Engine;
use super::window::{Sample, Shape, Tally};
use super::{CircuitBreakerLayer, State};
use crate::classify::Outcome;
use crate::rejection::Reason;
use crate::sync::check;

const FAIL: Sample = Sample {
    failure: true,
    slow: false,
};
const OK: Sample = Sample {
    failure: false,
    slow: false,
};

/// A breaker allowing `probes` probes, open with its period over: the next call probes.
fn half_opening(probes: u32) -> CircuitBreakerLayer {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .half_open_calls(probes)
        .open_timer(false)
        .build()
        .expect("valid settings");
    assert!(layer.engine().trip_closed());
    layer.engine().end_open_period();
    layer
}

/// After the threads: no probe of an earlier period is counted as running (a slot given
/// back twice would show as a negative count), and the next half-open period has exactly
/// `probes` slots.
fn every_slot_back(engine: &Engine, probes: u32) {
    assert_eq!(
        engine.earlier_probes_raw(),
        0,
        "a probe slot leaked or came back twice"
    );
    if engine.state() != State::Open {
        assert!(engine.trip_closed() || engine.state() == State::Open);
    }
    engine.end_open_period();
    let admitted: Vec<_> = (0..probes)
        .map(|_| engine.admit().expect("a free probe slot"))
        .collect();
    let refused = engine.admit().expect_err("every slot is taken");
    assert_eq!(refused.reason(), Reason::HalfOpenSaturated);
    for permit in admitted {
        engine.abandon(permit);
    }
}

/// Three callers race into a breaker that allows two probes; each finishes its probe
/// with a success: never more than two run at once, and the breaker closes.
#[test]
fn no_more_probes_run_than_the_breaker_allows() {
    check(|| {
        let layer = Arc::new(half_opening(2));
        let running = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let (layer, running) = (layer.clone(), running.clone());
                thread::spawn(move || probe(layer.engine(), &running, 2, Outcome::Success))
            })
            .collect();
        probe(layer.engine(), &running, 2, Outcome::Success);
        for caller in callers {
            caller.join().unwrap();
        }
        assert_eq!(layer.engine().state(), State::Closed);
    });
}

/// Admits a call; if it probes, checks that at most `limit` probes run, then ends it.
fn probe(engine: &Engine, running: &AtomicUsize, limit: usize, outcome: Outcome) {
    let Ok(permit) = engine.admit() else { return };
    if permit.is_probe() {
        let before = running.fetch_add(1, SeqCst);
        assert!(before < limit, "{} probes run at once", before + 1);
        running.fetch_sub(1, SeqCst);
    }
    engine.complete(permit, outcome);
}

/// One probe fails (the breaker opens again) while the other is dropped unfinished:
/// the dropped probe's slot is given back exactly once, whichever comes first.
#[test]
fn a_dropped_probe_racing_a_failed_one_gives_its_slot_back_once() {
    check(|| {
        let layer = Arc::new(half_opening(2));
        let failed = layer.engine().admit().expect("a probe slot");
        let dropped = layer.engine().admit().expect("a probe slot");
        let failing = {
            let layer = layer.clone();
            thread::spawn(move || layer.engine().complete(failed, Outcome::Failure))
        };
        layer.engine().abandon(dropped);
        failing.join().unwrap();
        every_slot_back(layer.engine(), 2);
    });
}

/// An operator forces the breaker open while a probe fails: the forced state wins, and
/// the probe's slot is back once the breaker is closed and opens again.
#[test]
fn forcing_open_wins_over_a_failing_probe_and_keeps_the_slots_right() {
    check(|| {
        let layer = Arc::new(half_opening(1));
        let permit = layer.engine().admit().expect("a probe slot");
        let operator = {
            let layer = layer.clone();
            thread::spawn(move || layer.engine().force(State::ForcedOpen))
        };
        layer.engine().complete(permit, Outcome::Failure);
        operator.join().unwrap();
        assert_eq!(layer.engine().state(), State::ForcedOpen);
        layer.engine().force(State::Closed);
        every_slot_back(layer.engine(), 1);
    });
}

/// Two writers fill a count window of two while the breaker's own window moves on to a
/// new generation: the new generation counts only its own sample.
#[test]
fn a_count_window_counts_exactly_its_generations_samples() {
    window_model(Shape::Count(2));
}

/// The same for a time window (one bucket period: every sample lands in one bucket).
#[test]
fn a_time_window_counts_exactly_its_generations_samples() {
    window_model(Shape::Time {
        buckets: 2,
        bucket_ms: 1_000,
    });
}

/// The same for the failures-in-a-row window.
#[test]
fn a_consecutive_window_counts_exactly_its_generations_samples() {
    window_model(Shape::Consecutive);
}

fn window_model(shape: Shape) {
    check(move || {
        let window = Arc::new(shape.window());
        window.reset(1);
        let writers: Vec<_> = [FAIL, OK]
            .into_iter()
            .map(|sample| {
                let window = window.clone();
                thread::spawn(move || {
                    window.record(1, sample, 0);
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let tally = window.tally(0);
        match shape {
            // The success after the failure ends the run; before it, the run is one.
            Shape::Consecutive => assert!(tally.failures <= 1),
            _ => assert_eq!((tally.calls, tally.failures), (2, 1)),
        }
        // A straggler of generation 1 races the reset to generation 2.
        let straggler = {
            let window = window.clone();
            thread::spawn(move || {
                window.record(1, FAIL, 0);
            })
        };
        window.reset(2);
        window.record(2, FAIL, 0);
        straggler.join().unwrap();
        let expected = Tally {
            calls: 1,
            failures: 1,
            slow: 0,
        };
        assert_eq!(
            window.tally(0),
            expected,
            "only generation 2's sample counts"
        );
    });
}
