//! What every call through one hedging layer shares: the delay (fixed, or a latency
//! percentile of the primary attempts), the budget for extra load, and the counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::*};
use std::time::Duration;

use super::histogram::Histogram;
use crate::cap::{Cap, Place};
use crate::telemetry::{Meter, names::HEDGE_ATTEMPTS};

/// Samples between two refreshes of the percentile.
const REFRESH_EVERY: u64 = 256;
/// Samples a window holds before the older one is forgotten.
const WINDOW: u64 = 4096;
/// The most samples the two windows hold together: `at_least` may not ask for more.
pub(crate) const MOST_SAMPLES: u64 = 2 * WINDOW;
/// The budget counts in millionths of an attempt.
const UNIT: i64 = 1_000_000;

/// When the next attempt goes out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Delay {
    Fixed(Duration),
    /// The `q` quantile of the primary attempts' latency, once `at_least` samples are
    /// in; `until` before that.
    Percentile {
        q: f64,
        at_least: u64,
        until: Duration,
    },
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) delay: Delay,
    pub(crate) max_attempts: u32,
    /// Millionths of an attempt each call adds to the budget.
    earn: i64,
    /// The most the budget holds, in millionths.
    cap: i64,
    budget: AtomicI64,
    windows: [Histogram; 2],
    current: AtomicUsize,
    samples: AtomicU64,
    /// The percentile delay, in microseconds (0: not known yet).
    percentile_us: AtomicU64,
    pub(crate) hedges: AtomicU64,
    pub(crate) refused: AtomicU64,
    /// Hedges in flight, at most `max_concurrent_hedges`.
    running: Arc<Cap>,
    /// A retry layer's budget, spent instead of this layer's own (see `share_budget`).
    pub(crate) shared_budget: Option<crate::SharedBudget>,
    pub(crate) meter: Meter,
    /// gRFC A96's per-call hedge histogram, when asked for.
    #[cfg(feature = "metrics")]
    pub(crate) grpc: Option<crate::telemetry::GrpcCall>,
}

/// One hedge's place under the cap of hedges in flight, given back when it ends or is
/// dropped.
pub(crate) type HedgeSlot = Place;

impl Shared {
    pub(crate) fn new(
        delay: Delay,
        max_attempts: u32,
        (extra, reserve): (f64, u32),
        max_running: u32,
        meter: Meter,
    ) -> Self {
        let earn = (extra * UNIT as f64).round() as i64;
        let cap = (i64::from(reserve) * UNIT).max(UNIT);
        Shared {
            delay,
            max_attempts,
            earn,
            cap,
            budget: AtomicI64::new(cap),
            windows: [Histogram::default(), Histogram::default()],
            current: AtomicUsize::new(0),
            samples: AtomicU64::new(0),
            percentile_us: AtomicU64::new(0),
            hedges: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            running: Cap::new(max_running),
            shared_budget: None,
            meter,
            #[cfg(feature = "metrics")]
            grpc: None,
        }
    }

    /// How long after the call's start (or the last attempt) the next attempt goes out.
    #[inline]
    pub(crate) fn delay(&self) -> Duration {
        match self.delay {
            Delay::Fixed(d) => d,
            Delay::Percentile { until, .. } => match self.percentile_us.load(Relaxed) {
                0 => until,
                us => Duration::from_micros(us),
            },
        }
    }

    /// A call starts: it earns its share of extra load.
    #[inline]
    pub(crate) fn earn(&self) {
        if self.earn > 0 {
            let _ = self.budget.fetch_update(AcqRel, Acquire, |b| {
                (b < self.cap).then(|| (b + self.earn).min(self.cap))
            });
        }
    }

    /// A place for one more hedge: the budget holds an attempt (looked at, not taken:
    /// it is taken when the hedge is sent, see [`send`](Self::send)) and the hedges in
    /// flight are fewer than the cap.
    pub(crate) fn place(self: &Arc<Self>) -> Option<HedgeSlot> {
        if self.shared_budget.is_none() && self.budget.load(Acquire) < UNIT {
            self.refuse("over_budget");
            return None;
        }
        let place = self.running.try_take();
        if place.is_none() {
            self.refuse("over_cap");
        }
        place
    }

    /// Takes one attempt from the budget as a hedge is sent; `false` if another call
    /// took the last one meanwhile.
    pub(crate) fn send(&self) -> bool {
        let spent = match &self.shared_budget {
            Some(shared) => shared.try_spend(),
            None => self
                .budget
                .fetch_update(AcqRel, Acquire, |b| (b >= UNIT).then_some(b - UNIT))
                .is_ok(),
        };
        if spent {
            self.hedges.fetch_add(1, Relaxed);
            self.meter.counter(HEDGE_ATTEMPTS, &[("outcome", "sent")]);
        } else {
            self.refuse("over_budget");
        }
        spent
    }

    fn refuse(&self, why: &'static str) {
        self.refused.fetch_add(1, Relaxed);
        self.meter.counter(HEDGE_ATTEMPTS, &[("outcome", why)]);
    }

    /// Records how long a primary attempt took (or, cut off, at least took), and now
    /// and then refreshes the percentile and forgets the older window.
    pub(crate) fn record(&self, took: Duration) {
        let Delay::Percentile { q, at_least, .. } = self.delay else {
            return;
        };
        let current = self.current.load(Relaxed) & 1;
        self.windows[current].record(took);
        let n = self.samples.fetch_add(1, Relaxed) + 1;
        // Every 256 samples, and at once when the first `at_least` are in: the call
        // that records it does the two passes (about a thousand relaxed loads), the
        // others only read the result.
        let first = n == at_least && self.percentile_us.load(Relaxed) == 0;
        if first || n.is_multiple_of(REFRESH_EVERY) {
            let older = &self.windows[current ^ 1];
            if let Some(p) = self.windows[current].quantile_with(older, q, at_least) {
                let us = u64::try_from(p.as_micros()).unwrap_or(u64::MAX).max(1);
                self.percentile_us.store(us, Relaxed);
            }
        }
        if n.is_multiple_of(WINDOW) {
            // The older window goes; it becomes the current one, empty.
            let older = current ^ 1;
            self.windows[older].clear();
            self.current.store(older, Relaxed);
        }
    }
}
