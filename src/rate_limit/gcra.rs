//! GCRA (the generic cell rate algorithm): the whole limiter state is one atomic word.
//!
//! The word holds the *theoretical arrival time* (TAT): when the limiter would be empty
//! again if no more calls came, in nanoseconds since the limiter was built. With an
//! emission interval `T = per / permits` and a burst of `b` calls, a call at `now` is
//! allowed if `TAT <= now + T·(b − 1)`; it then moves the TAT to `max(TAT, now) + T`.
//! A call that would have to wait `TAT − now − T·(b − 1)` may reserve its slot by the
//! same compare-and-swap. Dropped before its time, it gives the slot back only while it
//! is still the latest reservation (a compare-and-swap from its own TAT back to the one
//! before it); a slot with later reservations behind it is lost, never issued twice.
//!
//! The rate can change at run time; the interval and burst are read with relaxed loads,
//! so a call racing with a change sees either the old or the new rate.
//!
//! Why not `governor`: its limiter is the same algorithm, but a waiting caller reserves
//! nothing (it sleeps and tries again, so waiters have no order and a burst of them
//! races for each slot), its quota is fixed when it is built (the handle changes the rate at run time), its default clock does not follow
//! tokio's paused time (which every seawall test runs in), and a fleet's lease would need
//! a second limiter beside it. The benches compare the two.

use crate::sync::{AtomicU32, AtomicU64};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

use tokio::time::Instant;

use crate::time::Stopwatch;

#[derive(Debug)]
pub(crate) struct Gcra {
    clock: Stopwatch,
    /// The fleet's lease, when the limit is a fleet's (feature `redis`).
    #[cfg(feature = "redis")]
    pub(crate) lease: std::sync::OnceLock<std::sync::Arc<super::fleet::Lease>>,
    tat: AtomicU64,
    interval_ns: AtomicU64,
    burst: AtomicU32,
    permits: AtomicU32,
    per_ns: AtomicU64,
}

/// A granted call: how long it must wait for its slot (zero: go now), and the TAT
/// before and after it took the slot, so that it can be given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) wait_ns: u64,
    tat_before: u64,
    tat_after: u64,
}

pub(crate) use crate::config::nanos;

impl Gcra {
    pub(crate) fn new(permits: u32, per: Duration, burst: u32, clock: Stopwatch) -> Self {
        let gcra = Gcra {
            clock,
            #[cfg(feature = "redis")]
            lease: std::sync::OnceLock::new(),
            tat: AtomicU64::new(0),
            interval_ns: AtomicU64::new(0),
            burst: AtomicU32::new(burst),
            permits: AtomicU32::new(0),
            per_ns: AtomicU64::new(0),
        };
        gcra.set_rate(permits, per);
        gcra
    }

    /// Callers validate: `permits >= 1`, `per / permits >= 1ns`.
    pub(crate) fn set_rate(&self, permits: u32, per: Duration) {
        let per_ns = nanos(per);
        self.permits.store(permits, Relaxed);
        self.per_ns.store(per_ns, Relaxed);
        self.interval_ns
            .store((per_ns / u64::from(permits.max(1))).max(1), Relaxed);
    }

    pub(crate) fn rate(&self) -> (u32, Duration) {
        let per = Duration::from_nanos(self.per_ns.load(Relaxed));
        (self.permits.load(Relaxed), per)
    }

    /// Leaves no burst: from now the limiter admits at its rate's pace only (a fleet
    /// limiter starting, or falling back on local state, must not add a whole burst to
    /// the fleet's).
    #[cfg(feature = "redis")]
    pub(crate) fn drain(&self) {
        let now = self.now_ns();
        let interval = self.interval_ns.load(Relaxed);
        let spent = interval.saturating_mul(u64::from(self.burst().saturating_sub(1)));
        self.tat.fetch_max(now.saturating_add(spent), AcqRel);
    }

    pub(crate) fn burst(&self) -> u32 {
        self.burst.load(Relaxed)
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Whether the limiter reads the time-stamp counter rather than tokio's clock.
    pub(crate) fn fast_clock(&self) -> bool {
        self.clock.is_fast()
    }

    /// When a call that read `now` and must wait `wait_ns` should wake, on tokio's clock.
    pub(crate) fn wake_at(&self, now: u64, wait_ns: u64) -> Instant {
        self.clock.wake_at(now, wait_ns)
    }

    /// Takes a slot at `now`, or reserves one at most `max_wait_ns` ahead.
    /// `Err(wait)`: the nearest slot is `wait` nanoseconds away, beyond `max_wait_ns`.
    #[inline]
    pub(crate) fn acquire(&self, now: u64, max_wait_ns: u64) -> Result<Slot, u64> {
        let interval_ns = self.interval_ns.load(Relaxed);
        let tolerance =
            interval_ns.saturating_mul(u64::from(self.burst.load(Relaxed).saturating_sub(1)));
        let earliest_allowed = now.saturating_add(tolerance);
        let mut tat = self.tat.load(Relaxed);
        loop {
            let wait_ns = tat.saturating_sub(earliest_allowed);
            if wait_ns > max_wait_ns {
                return Err(wait_ns);
            }
            let next = tat.max(now).saturating_add(interval_ns);
            match self.tat.compare_exchange_weak(tat, next, AcqRel, Relaxed) {
                Ok(_) => {
                    return Ok(Slot {
                        wait_ns,
                        tat_before: tat,
                        tat_after: next,
                    });
                }
                Err(seen) => tat = seen,
            }
        }
    }

    /// Gives back a reserved slot that will not be used, if no later slot was taken
    /// since: the TAT goes back to what it was before, as if the slot had never been
    /// taken. A slot with later ones behind it stays taken (it is lost, never issued
    /// twice): moving the TAT back would put the next call on the last one's slot.
    pub(crate) fn refund(&self, slot: Slot) {
        // Only this slot's own TAT can be undone. The TAT only grows except here, so
        // seeing `tat_after` again means every later slot was itself given back.
        let _ = self
            .tat
            .compare_exchange(slot.tat_after, slot.tat_before, AcqRel, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_at_once_then_calls_are_spaced_by_the_interval() {
        let g = Gcra::new(10, Duration::from_secs(1), 3, Stopwatch::tokio());
        for _ in 0..3 {
            assert_eq!(g.acquire(0, 0).map(|s| s.wait_ns), Ok(0));
        }
        assert_eq!(g.acquire(0, 0), Err(100 * MS));
        assert_eq!(g.acquire(100 * MS, 0).map(|s| s.wait_ns), Ok(0));
        assert_eq!(g.acquire(150 * MS, 0), Err(50 * MS));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reserved_slot_given_back_frees_the_next_one() {
        let g = Gcra::new(10, Duration::from_secs(1), 1, Stopwatch::tokio());
        g.acquire(0, 0).unwrap();
        let slot = g.acquire(0, 500 * MS).unwrap();
        assert_eq!(slot.wait_ns, 100 * MS);
        g.refund(slot);
        assert_eq!(g.acquire(0, 0), Err(100 * MS));
        assert_eq!(g.acquire(100 * MS, 0).map(|s| s.wait_ns), Ok(0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reserved_slot_with_a_later_one_behind_it_is_not_given_back() {
        let g = Gcra::new(10, Duration::from_secs(1), 1, Stopwatch::tokio());
        g.acquire(0, 0).unwrap();
        let dropped = g.acquire(0, 500 * MS).unwrap();
        let behind = g.acquire(0, 500 * MS).unwrap();
        assert_eq!(behind.wait_ns, 200 * MS);
        g.refund(dropped);
        assert_eq!(g.acquire(0, 500 * MS).map(|s| s.wait_ns), Ok(300 * MS));
    }
}
