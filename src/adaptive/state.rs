//! The limiter's shared state: permits from the crate's semaphore, and the algorithm's
//! estimate, updated lock-free after every call.
//!
//! The estimate (a float) and the algorithm's reference latency (Gradient2's long-term
//! average, Vegas's no-load latency) live in atomic words updated by compare-and-swap.
//! Concurrent samples interleave rather than wait; the semaphore's integer limit follows
//! the estimate after each sample.

use crate::homed::Anchor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::*};

use super::algorithm::{Algorithm, Gradient2, Sample, Vegas};
use crate::rejection::RejectedBy;
use crate::semaphore::Semaphore;
use crate::telemetry::Meter;

#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) semaphore: Anchor<Semaphore>,
    pub(crate) name: Arc<str>,
    algorithm: Algorithm,
    min: f64,
    max: f64,
    estimate: AtomicU64,
    /// Nanoseconds, as `f64` bits: Gradient2's long-term average latency, or Vegas's
    /// no-load latency (0 until the first sample).
    reference_rtt_ns: AtomicU64,
    /// Samples counted: all of them for Gradient2's warm-up, those since the last probe
    /// for Vegas.
    samples: AtomicU64,
}

/// Calls averaged plainly before the long-term latency turns exponential.
const WARMUP: u64 = 10;

fn update(word: &AtomicU64, f: impl Fn(f64) -> f64) -> f64 {
    let before = word
        .fetch_update(AcqRel, Acquire, |bits| {
            Some(f(f64::from_bits(bits)).to_bits())
        })
        .unwrap_or_else(|bits| bits);
    f(f64::from_bits(before))
}

impl Limiter {
    pub(crate) fn new(
        name: Arc<str>,
        algorithm: Algorithm,
        initial: u32,
        min: u32,
        max: u32,
    ) -> Self {
        Limiter {
            semaphore: Anchor::new(Semaphore::new(
                initial,
                Meter::new(RejectedBy::AdaptiveLimit.as_str(), &name),
            )),
            name,
            algorithm,
            min: f64::from(min),
            max: f64::from(max),
            estimate: AtomicU64::new(f64::from(initial).to_bits()),
            reference_rtt_ns: AtomicU64::new(0f64.to_bits()),
            samples: AtomicU64::new(0),
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.semaphore.limit()
    }

    /// Moves the estimate by one finished call, then the semaphore's limit with it.
    pub(crate) fn sample(&self, sample: Sample) {
        let rtt_ns = (sample.rtt.as_nanos() as f64).max(1.0);
        let (min, max) = (self.min, self.max);
        let estimate = match self.algorithm {
            Algorithm::Aimd(aimd) => update(&self.estimate, |limit| {
                aimd.next(limit, sample).clamp(min, max)
            }),
            Algorithm::Gradient2(g) => {
                let long_rtt = self.long_rtt(&g, rtt_ns);
                update(&self.estimate, |limit| {
                    g.next(limit, long_rtt, rtt_ns, sample.in_flight)
                        .clamp(min, max)
                })
            }
            Algorithm::Vegas(v) if sample.dropped => {
                update(&self.estimate, |limit| v.dropped(limit).clamp(min, max))
            }
            Algorithm::Vegas(v) => match self.rtt_noload(&v, rtt_ns) {
                Some(noload) => update(&self.estimate, |limit| {
                    v.next(limit, noload, rtt_ns, sample.in_flight)
                        .clamp(min, max)
                }),
                None => f64::from_bits(self.estimate.load(Acquire)),
            },
        };
        let to = estimate as u32;
        if to != self.semaphore.limit() {
            let from = self.semaphore.set_limit(to);
            if from != to {
                crate::telemetry::event!(
                    debug,
                    "adaptive",
                    &*self.name,
                    "limit_changed",
                    from,
                    to,
                    rtt_us = sample.rtt.as_micros() as u64,
                    dropped = sample.dropped,
                    "adaptive limit changed"
                );
            }
        }
    }

    /// Adds a latency to the long-term average and returns the average.
    fn long_rtt(&self, g: &Gradient2, rtt_ns: f64) -> f64 {
        let n = self.samples.fetch_add(1, Relaxed).saturating_add(1);
        let factor = if n <= WARMUP {
            1.0 / n as f64
        } else {
            2.0 / (f64::from(g.long_window) + 1.0)
        };
        let long = update(&self.reference_rtt_ns, |avg| avg + (rtt_ns - avg) * factor);
        if long / rtt_ns > 2.0 {
            // Latency is back to normal after a long overload: forget it faster.
            update(&self.reference_rtt_ns, |avg| avg * 0.95)
        } else {
            long
        }
    }

    /// Vegas: counts a successful call toward the next probe and returns the no-load
    /// latency, or `None` when this call set it (a probe, or a new lowest latency) and
    /// so says nothing about queueing.
    fn rtt_noload(&self, v: &Vegas, rtt_ns: f64) -> Option<f64> {
        let limit = f64::from_bits(self.estimate.load(Relaxed));
        let since_probe = self.samples.fetch_add(1, Relaxed).saturating_add(1);
        if since_probe as f64 >= f64::from(v.probe_multiplier) * limit {
            self.samples.store(0, Relaxed);
            self.reference_rtt_ns.store(rtt_ns.to_bits(), Release);
            return None;
        }
        let lowest = self.reference_rtt_ns.fetch_update(AcqRel, Acquire, |bits| {
            let noload = f64::from_bits(bits);
            (noload == 0.0 || rtt_ns < noload).then_some(rtt_ns.to_bits())
        });
        match lowest {
            Ok(_) => None,
            Err(bits) => Some(f64::from_bits(bits)),
        }
    }
}
