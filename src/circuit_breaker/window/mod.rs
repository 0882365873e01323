//! The three ways a breaker judges health while closed, as lock-free data.
//!
//! Every window records samples for one *generation* of the breaker (a closed period).
//! A window is reset when the breaker (re-)enters a recording state; samples from calls
//! admitted under an older generation are discarded, so a straggler that finishes after a
//! state change can never corrupt the new counts.

mod consecutive;
mod count;
mod time;

pub(crate) use consecutive::ConsecutiveWindow;
pub(crate) use count::CountWindow;
pub(crate) use time::TimeWindow;

/// Generations are stored in 21 bits everywhere (see `word.rs`).
pub(crate) const GEN_BITS: u32 = 21;
pub(crate) const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// One finished, counted call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

impl Sample {
    fn bits(self) -> u32 {
        u32::from(self.failure) | (u32::from(self.slow) << 1)
    }
}

/// Calls, failures and slow calls currently in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Tally {
    /// Failure rate in percent (0 when there are no calls).
    pub(crate) fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Slow-call rate in percent (0 when there are no calls).
    pub(crate) fn slow_rate(&self) -> f64 {
        percent(self.slow, self.calls)
    }
}

pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The window kinds.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
    Consecutive(ConsecutiveWindow),
}

impl Window {
    /// Records a sample taken under generation `gen` at `now_ms` (only read by time
    /// windows). Returns the tally after recording, or `None` when nothing that could
    /// change a decision happened (stale generation, or a success into a healthy window).
    #[inline]
    pub(crate) fn record(&self, generation: u64, sample: Sample, now_ms: u64) -> Option<Tally> {
        match self {
            Window::Count(w) => w.record(generation, sample),
            Window::Time(w) => w.record(generation, sample, now_ms),
            Window::Consecutive(w) => w.record(generation, sample),
        }
    }

    /// Whether a success of generation `generation` would change nothing: the window
    /// is full of successes (count window) or holds no failure run (consecutive). Reads
    /// only; time windows always count.
    #[inline]
    pub(crate) fn success_changes_nothing(&self, generation: u64) -> bool {
        match self {
            Window::Count(w) => w.success_changes_nothing(generation),
            Window::Time(_) => false,
            Window::Consecutive(w) => w.success_changes_nothing(generation),
        }
    }

    /// Empties the window for generation `gen`.
    pub(crate) fn reset(&self, generation: u64) {
        match self {
            Window::Count(w) => w.reset(generation),
            Window::Time(w) => w.reset(generation),
            Window::Consecutive(w) => w.reset(generation),
        }
    }

    /// What the window holds now.
    pub(crate) fn tally(&self, now_ms: u64) -> Tally {
        match self {
            Window::Count(w) => w.tally(),
            Window::Time(w) => w.tally(now_ms),
            Window::Consecutive(w) => w.tally(),
        }
    }

    /// Whether recording needs the current time.
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Window::Time(_))
    }
}

/// The part of a window that cannot change once built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Count(u32),
    Time { buckets: u32, bucket_ms: u64 },
    Consecutive,
}

impl Shape {
    pub(crate) fn window(self) -> Window {
        match self {
            Shape::Count(size) => Window::Count(CountWindow::new(size)),
            Shape::Time { buckets, bucket_ms } => Window::Time(TimeWindow::new(buckets, bucket_ms)),
            Shape::Consecutive => Window::Consecutive(ConsecutiveWindow::new()),
        }
    }
}

/// A count window's head and a consecutive window's word: `generation | value`, the
/// generation in the top [`GEN_BITS`].
const SEQ_BITS: u32 = 64 - GEN_BITS;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

fn tag(generation: u64, value: u64) -> u64 {
    (generation & GEN_MASK) << SEQ_BITS | value
}

fn gen_of(word: u64) -> u64 {
    word >> SEQ_BITS
}

#[cfg(test)]
const OK: Sample = Sample {
    failure: false,
    slow: false,
};
#[cfg(test)]
const FAIL: Sample = Sample {
    failure: true,
    slow: false,
};
