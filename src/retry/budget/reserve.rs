//! The reserve behind the deposits: a few retries a second for quiet periods.

use crate::sync::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// The reserve: a token bucket of `min_per_sec` retries a second, holding at most one
/// second's worth, kept as the time its next token is due (GCRA, as the rate limiter).
#[derive(Debug)]
pub(super) struct Reserve {
    /// Nanoseconds between tokens.
    interval: AtomicU64,
    /// How far ahead of now the due time may run: one second, less one interval.
    ahead: AtomicU64,
    /// When the next token is due, in nanoseconds since the epoch.
    due: AtomicU64,
}

/// The spacing of `per_sec` tokens a second, and how far ahead of now a burst of them
/// may reach: a second's worth (rounded up), less one.
fn pace(per_sec: f64) -> (u64, u64) {
    let per_sec = per_sec.max(1e-3);
    let interval = ((1e9 / per_sec) as u64).max(1);
    let burst = per_sec.ceil() as u64;
    (interval, interval.saturating_mul(burst.saturating_sub(1)))
}

impl Reserve {
    pub(super) fn new(per_sec: u32) -> Self {
        let (interval, ahead) = pace(f64::from(per_sec));
        Reserve {
            interval: AtomicU64::new(interval),
            ahead: AtomicU64::new(ahead),
            due: AtomicU64::new(0),
        }
    }

    /// Changes the rate (a fleet instance's share of it); tokens taken keep their time.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn set_rate(&self, per_sec: f64) {
        let (interval, ahead) = pace(per_sec);
        self.interval.store(interval, Relaxed);
        self.ahead.store(ahead, Relaxed);
    }

    /// Takes a token at `now`: the due time before and after, to give it back with.
    pub(super) fn take(&self, now: u64) -> Option<(u64, u64)> {
        let (interval, ahead) = (self.interval.load(Relaxed), self.ahead.load(Relaxed));
        let mut due = self.due.load(Acquire);
        loop {
            let start = due.max(now);
            if start > now + ahead {
                return None;
            }
            let next = start + interval;
            match self.due.compare_exchange_weak(due, next, AcqRel, Acquire) {
                Ok(_) => return Some((due, next)),
                Err(seen) => due = seen,
            }
        }
    }

    /// Gives a token back if no later one was taken since (then it is simply lost:
    /// never handed out twice).
    pub(super) fn give_back(&self, before: u64, after: u64) {
        let _ = self.due.compare_exchange(after, before, AcqRel, Relaxed);
    }

    #[cfg(test)]
    pub(super) fn left(&self, now: u64) -> i64 {
        let (interval, ahead) = (self.interval.load(Relaxed), self.ahead.load(Relaxed));
        let due = self.due.load(Acquire).max(now);
        ((now + ahead + interval).saturating_sub(due) / interval) as i64
    }
}
