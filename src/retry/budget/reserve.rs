//! The reserve behind the deposits: a few retries a second for quiet periods.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// The reserve: a token bucket of `min_per_sec` retries a second, holding at most one
/// second's worth, kept as the time its next token is due (GCRA, as the rate limiter).
#[derive(Debug)]
pub(super) struct Reserve {
    /// Nanoseconds between tokens.
    interval: u64,
    /// How far ahead of now the due time may run: one second, less one interval.
    ahead: u64,
    /// When the next token is due, in nanoseconds since the epoch.
    due: AtomicU64,
}

impl Reserve {
    pub(super) fn new(per_sec: u32) -> Self {
        let interval = 1_000_000_000 / u64::from(per_sec).max(1);
        Reserve {
            interval,
            ahead: interval * (u64::from(per_sec) - 1),
            due: AtomicU64::new(0),
        }
    }

    /// Takes a token at `now`: the due time before and after, to give it back with.
    pub(super) fn take(&self, now: u64) -> Option<(u64, u64)> {
        let mut due = self.due.load(Acquire);
        loop {
            let start = due.max(now);
            if start > now + self.ahead {
                return None;
            }
            let next = start + self.interval;
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
        let due = self.due.load(Acquire).max(now);
        ((now + self.ahead + self.interval).saturating_sub(due) / self.interval) as i64
    }
}
