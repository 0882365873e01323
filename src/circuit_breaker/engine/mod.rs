//! The breaker's engine: admission, recording and every transition, as compare-and-swaps
//! on the state word ([`word`](super::word)) plus the closed-state window.
//!
//! Every transition is one compare-and-swap that bumps the generation, so exactly one
//! caller wins it, and results of calls admitted under an older generation are ignored.
//! Admission in the closed state is one atomic load; recording a success into a healthy
//! count window is two more loads and no write.
//!
//! This file holds the shared state, its construction, its settings and what it reports;
//! [`admission`] decides whether a call may run and keeps the probe slots, [`record`]
//! judges a finished call, and [`transitions`] opens, closes and forces the breaker.

mod admission;
#[cfg(feature = "redis")]
mod fleet;
#[cfg(feature = "redis")]
pub(crate) use fleet::AtSync;
mod record;
mod transitions;

use crate::sync::{AtomicU32, AtomicU64, Mutex};
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::alarm::Alarm;
use super::events::Listener;
use super::settings::{Settings, Tunables};
use super::window::{ConsecutiveWindow, Shape, Tally, Window};
use super::word::*;
use crate::random::Draws;
use crate::telemetry::Meter;
use crate::time::Epoch;

/// Shared by every service and handle of one breaker.
#[derive(Debug)]
pub(crate) struct Engine {
    state: AtomicU64,
    window: Window,
    /// Failures in a row while closed, for judging by evidence.
    run: ConsecutiveWindow,
    /// Serializes window resets (transitions only, never a call): see
    /// [`reset_window`](Self::reset_window).
    resets: Mutex<()>,
    /// `generation | ms since epoch` when the current half-open period began.
    half_open_since: AtomicU64,
    /// Trips since the last healthy close; drives the open-duration backoff.
    trips: AtomicU32,
    /// Failures a closed breaker judged (wrapping): a new failure changes it.
    #[cfg(feature = "balance")]
    failures_seen: AtomicU64,
    /// When (ms since the epoch) the last healthy close was, while its trips decay
    /// (`u64::MAX`: none to decay).
    healthy_since: AtomicU64,
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
    /// The group whose share of open breakers this one keeps to, if any.
    pub(crate) group: std::sync::OnceLock<Arc<super::group::Shared>>,
    /// The generation the last close by probes began (feature `redis`: a fleet tells
    /// a prober's verdict from an operator's reset).
    #[cfg(feature = "redis")]
    pub(crate) closed_by_probes: AtomicU64,
    /// What shares this breaker's open state with a fleet (feature `redis`).
    #[cfg(feature = "redis")]
    pub(crate) fleet: std::sync::OnceLock<Arc<super::fleet::FleetState>>,
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
            resets: Mutex::new(()),
            half_open_since: AtomicU64::new(0),
            trips: AtomicU32::new(0),
            healthy_since: AtomicU64::new(u64::MAX),
            #[cfg(feature = "balance")]
            failures_seen: AtomicU64::new(0),
            earlier_probes: AtomicU64::new(0),
            draws: Draws::new(seed),
            epoch,
            epoch_stamp: epoch.stamp(),
            alarm: Alarm::default(),
            me,
            shape,
            tunables: Tunables::new(&settings),
            listener,
            meter: Meter::new(crate::RejectedBy::CircuitBreaker.as_str(), &name),
            group: std::sync::OnceLock::new(),
            #[cfg(feature = "redis")]
            closed_by_probes: AtomicU64::new(u64::MAX),
            #[cfg(feature = "redis")]
            fleet: std::sync::OnceLock::new(),
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

    /// Replaces the state word `from` with `to`, if it is still `from`.
    pub(crate) fn swap_word(&self, from: u64, to: u64) -> bool {
        self.state
            .compare_exchange(from, to, AcqRel, Acquire)
            .is_ok()
    }

    #[cfg(any(test, feature = "redis"))]
    pub(crate) fn word(&self) -> u64 {
        self.state.load(Acquire)
    }

    /// Probes of earlier periods as stored, unclamped: a slot given back twice shows here
    /// as a negative count (model checks).
    #[cfg(all(test, seawall_loom))]
    pub(crate) fn earlier_probes_raw(&self) -> i64 {
        self.earlier_probes.load(Acquire) as i64
    }

    /// Ends the open period of an open breaker now (model checks start from there).
    #[cfg(all(test, seawall_loom))]
    pub(crate) fn end_open_period(&self) {
        let word = self.state.load(Acquire);
        assert!(
            matches!(mode(word), OPEN | ARMED),
            "the breaker is not open"
        );
        self.state.swap(pack(OPEN, generation(word), 0), AcqRel);
    }

    /// A reference to this engine that does not keep it alive.
    pub(crate) fn me(&self) -> Weak<Engine> {
        self.me.clone()
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
        self.remaining_open_in(self.state.load(Acquire))
    }

    /// The time left open in the state `word`.
    pub(crate) fn remaining_open_in(&self, word: u64) -> Option<Duration> {
        matches!(mode(word), OPEN | ARMED)
            .then(|| self.open_rejection(word).retry_after())
            .flatten()
    }

    /// Probes admitted and not finished: this half-open period's and earlier ones'.
    pub(crate) fn probes_running(&self) -> u64 {
        let word = self.state.load(Acquire);
        let current = if mode(word) == HALF_OPEN {
            let p = Probes::unpack(word);
            p.admitted.saturating_sub(p.done)
        } else {
            0
        };
        current + self.earlier_probes()
    }

    /// The closed breaker's failures in a row since its last success.
    #[inline]
    pub(crate) fn failures_in_a_row(&self) -> u64 {
        self.run.run()
    }

    /// The closed breaker's failures so far (wrapping), to tell a new one from the last.
    #[cfg(feature = "balance")]
    #[inline]
    pub(crate) fn failures_seen(&self) -> u64 {
        self.failures_seen.load(Relaxed)
    }

    pub(crate) fn consecutive_trips(&self) -> u32 {
        self.trips.load(Acquire)
    }
}
