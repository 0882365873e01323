//! The breaker's validated settings, and their live copy in atomics so that a handle can
//! replace them while calls run (hot reload) without a lock on any call path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::evidence::Evidence;

/// How long the breaker stays open, growing on repeated trips.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OpenDuration {
    pub(crate) base: Duration,
    pub(crate) multiplier: f64,
    pub(crate) max: Duration,
    /// Relative jitter in `[0, 1)`: the duration is scaled by `U(1 - jitter, 1 + jitter)`.
    pub(crate) jitter: f64,
    /// Closed this long after a healthy close, one trip is forgotten; `None`: all at once.
    pub(crate) decay: Option<Duration>,
}

/// Validated settings that may change at run time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Settings {
    pub(crate) failure_rate_threshold: f64,
    pub(crate) slow_call_rate_threshold: f64,
    pub(crate) slow_call_duration: Option<Duration>,
    pub(crate) minimum_calls: u64,
    /// Whether `minimum_calls` was set, rather than a default: when set, it also holds
    /// back a trip by a run of failures.
    pub(crate) minimum_set: bool,
    /// `Some`: trip only on statistical evidence (see [`Evidence`]).
    pub(crate) evidence: Option<Evidence>,
    /// `Some(n)`: trip on `n` consecutive failures instead of a rate.
    pub(crate) consecutive_failures: Option<u64>,
    pub(crate) open: OpenDuration,
    pub(crate) half_open_calls: u64,
    pub(crate) max_wait_in_half_open: Duration,
    /// After a failed probe, the open period runs from the probe's start.
    pub(crate) steady_probing: bool,
    /// Whether opening sets a timer for the end of the open period.
    pub(crate) open_timer: bool,
}

/// [`Settings`] as atomics. Each field is read and written on its own: during a reload a
/// reader may briefly see some fields old and some new, each of them valid.
#[derive(Debug, Default)]
pub(crate) struct Tunables {
    failure_rate_threshold: AtomicU64,
    slow_call_rate_threshold: AtomicU64,
    /// Nanoseconds; 0 means off.
    slow_call_nanos: AtomicU64,
    minimum_calls: AtomicU64,
    minimum_set: AtomicBool,
    /// The evidence's bits; 0 means "judge as observed".
    evidence_confidence: AtomicU64,
    evidence_z: AtomicU64,
    /// 0 means "judge by rate".
    consecutive_failures: AtomicU64,
    open_base_nanos: AtomicU64,
    open_multiplier: AtomicU64,
    open_max_nanos: AtomicU64,
    open_jitter: AtomicU64,
    /// Nanoseconds; 0 means none.
    open_decay_nanos: AtomicU64,
    half_open_calls: AtomicU64,
    max_wait_nanos: AtomicU64,
    steady_probing: AtomicBool,
    open_timer: AtomicBool,
}

use crate::config::nanos;

impl Tunables {
    pub(crate) fn new(s: &Settings) -> Self {
        let t = Tunables::default();
        t.store(s);
        t
    }

    pub(crate) fn store(&self, s: &Settings) {
        self.failure_rate_threshold
            .store(s.failure_rate_threshold.to_bits(), Relaxed);
        self.slow_call_rate_threshold
            .store(s.slow_call_rate_threshold.to_bits(), Relaxed);
        self.slow_call_nanos
            .store(s.slow_call_duration.map_or(0, nanos), Relaxed);
        self.minimum_calls.store(s.minimum_calls, Relaxed);
        self.minimum_set.store(s.minimum_set, Relaxed);
        let (confidence, z) = s.evidence.map_or((0.0, 0.0), Evidence::parts);
        self.evidence_confidence
            .store(confidence.to_bits(), Relaxed);
        self.evidence_z.store(z.to_bits(), Relaxed);
        self.consecutive_failures
            .store(s.consecutive_failures.unwrap_or(0), Relaxed);
        self.open_base_nanos.store(nanos(s.open.base), Relaxed);
        self.open_multiplier
            .store(s.open.multiplier.to_bits(), Relaxed);
        self.open_max_nanos.store(nanos(s.open.max), Relaxed);
        self.open_jitter.store(s.open.jitter.to_bits(), Relaxed);
        self.open_decay_nanos
            .store(s.open.decay.map_or(0, nanos), Relaxed);
        self.half_open_calls.store(s.half_open_calls, Relaxed);
        self.max_wait_nanos
            .store(nanos(s.max_wait_in_half_open), Relaxed);
        self.steady_probing.store(s.steady_probing, Relaxed);
        self.open_timer.store(s.open_timer, Relaxed);
    }

    pub(crate) fn load(&self) -> Settings {
        let f = |a: &AtomicU64| f64::from_bits(a.load(Relaxed));
        let d = |a: &AtomicU64| Duration::from_nanos(a.load(Relaxed));
        let consecutive = self.consecutive_failures.load(Relaxed);
        Settings {
            failure_rate_threshold: f(&self.failure_rate_threshold),
            slow_call_rate_threshold: f(&self.slow_call_rate_threshold),
            slow_call_duration: self.slow_call_duration(),
            minimum_calls: self.minimum_calls.load(Relaxed),
            minimum_set: self.minimum_set.load(Relaxed),
            evidence: match f(&self.evidence_confidence) {
                0.0 => None,
                confidence => Some(Evidence::from_parts(confidence, f(&self.evidence_z))),
            },
            consecutive_failures: (consecutive != 0).then_some(consecutive),
            open: OpenDuration {
                base: d(&self.open_base_nanos),
                multiplier: f(&self.open_multiplier),
                max: d(&self.open_max_nanos),
                jitter: f(&self.open_jitter),
                decay: match self.open_decay_nanos.load(Relaxed) {
                    0 => None,
                    n => Some(Duration::from_nanos(n)),
                },
            },
            half_open_calls: self.half_open_calls.load(Relaxed),
            max_wait_in_half_open: d(&self.max_wait_nanos),
            steady_probing: self.steady_probing.load(Relaxed),
            open_timer: self.open_timer(),
        }
    }

    /// Whether opening sets a timer for the end of the open period.
    pub(crate) fn open_timer(&self) -> bool {
        self.open_timer.load(Relaxed)
    }

    /// The one setting a call reads on its way through: one load.
    #[inline]
    pub(crate) fn slow_call_duration(&self) -> Option<Duration> {
        match self.slow_call_nanos.load(Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }
}
