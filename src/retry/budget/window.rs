//! Finagle's retry budget: deposits and withdrawals kept in time slots that expire, and
//! the reserve behind them.

use crate::sync::{AtomicI64, AtomicU64};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::time::Duration;

use super::reserve::Reserve;
use super::{RETRY_COST, Source};
use crate::ring::Ring;
use crate::time::Epoch;

/// The time-to-live is kept in this many slots, which expire one at a time.
const SLOTS: u32 = 10;
/// Requests are counted in one shared counter and moved into a time slot (which needs
/// the clock) once per this many requests, or when a retry asks for budget.
const BATCH: u64 = 256;

/// Finagle's retry budget, lock-free.
///
/// `balance` is the number of units a retry may take now. Every deposit and withdrawal
/// is also written to the slot of the time it belongs to; when a slot expires, whoever
/// notices first (by compare-and-swap on the slot) takes its amount back out of the
/// balance, exactly once. Withdrawals check and take from `balance` in one atomic step,
/// so concurrent retries can never take the same unit twice.
#[derive(Debug)]
pub(crate) struct Window {
    epoch: Epoch,
    slot_millis: u64,
    deposit: u64,
    balance: AtomicI64,
    /// Requests not yet written to a slot, and the slot generation of the oldest of them.
    pending: AtomicU64,
    pending_since: AtomicU64,
    /// Each slot: generation (high 32 bits) and net units (low 32 bits, signed).
    slots: Ring,
    reserve: Option<Reserve>,
}

impl Window {
    /// A budget that lets `percent` % of the requests of the last `ttl` be retried, plus
    /// `min_per_sec` retries per second.
    pub(crate) fn new(ttl: Duration, min_per_sec: u32, percent: f64) -> Self {
        let ttl_millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Window {
            epoch: Epoch::now(),
            slot_millis: (ttl_millis / u64::from(SLOTS)).max(1),
            // Rounded down: 33.3 % deposits 333 units, never 334.
            deposit: (percent * 10.0).floor() as u64,
            balance: AtomicI64::new(0),
            pending: AtomicU64::new(0),
            pending_since: AtomicU64::new(0),
            slots: Ring::new(SLOTS, 0),
            reserve: (min_per_sec > 0).then(|| Reserve::new(min_per_sec)),
        }
    }

    fn generation(&self) -> u32 {
        u32::try_from(self.epoch.elapsed_millis() / self.slot_millis).unwrap_or(u32::MAX)
    }

    pub(super) fn deposit(&self, requests: u64) {
        if self.deposit == 0 {
            return;
        }
        let before = self.pending.fetch_add(requests, Relaxed);
        if before / BATCH != (before + requests) / BATCH {
            self.flush(self.generation());
        }
    }

    /// Writes pending requests to a slot. Their exact times are unknown, only that they
    /// came after the last flush: they are written to that older slot, so they expire
    /// early rather than late (the budget errs on the side of fewer retries).
    fn flush(&self, now: u32) {
        let since = self.pending_since.swap(u64::from(now), AcqRel) as u32;
        let requests = self.pending.swap(0, AcqRel);
        if requests == 0 {
            return;
        }
        let generation = since.min(now);
        if is_live(generation, now) {
            let units = i64::try_from(requests.saturating_mul(self.deposit)).unwrap_or(i64::MAX);
            let added = self.slot_add(generation, units);
            self.balance.fetch_add(added, AcqRel);
        }
    }

    /// Sets the reserve's rate (a fleet instance's share of it).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn set_reserve_rate(&self, per_sec: f64) {
        if let Some(reserve) = &self.reserve {
            reserve.set_rate(per_sec);
        }
    }

    pub(super) fn try_withdraw(&self) -> Option<Source> {
        let now = self.generation();
        self.flush(now);
        self.expire(now);
        let taken = self.balance.fetch_update(AcqRel, Acquire, |b| {
            (b >= RETRY_COST).then_some(b - RETRY_COST)
        });
        if taken.is_err() {
            let at = self.epoch.elapsed_nanos();
            let (before, after) = self.reserve.as_ref()?.take(at)?;
            return Some(Source::Reserve(before, after));
        }
        // Written to the slot so that it comes back when the slot expires. Should the
        // slot be full, the excess is never given back: fewer retries, never more.
        self.slot_add(now, -RETRY_COST);
        Some(Source::Deposits(now))
    }

    pub(super) fn refund(&self, source: Source) {
        match source {
            Source::Free => {}
            // A withdrawal whose slot expired was already given back by the expiry.
            Source::Deposits(generation) => {
                if is_live(generation, self.generation()) {
                    let added = self.slot_add(generation, RETRY_COST);
                    self.balance.fetch_add(added, AcqRel);
                }
            }
            Source::Reserve(before, after) => {
                if let Some(reserve) = &self.reserve {
                    reserve.give_back(before, after);
                }
            }
        }
    }

    /// Adds `units` to the slot of `generation`, first expiring what the slot held for
    /// an older generation. Returns how much the slot took (less when it saturates,
    /// nothing when the slot already belongs to a newer generation).
    fn slot_add(&self, generation: u32, units: i64) -> i64 {
        let total =
            |kept: i32| (i64::from(kept) + units).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        let replaced = self.slots.update(u64::from(generation), |word| {
            let (g, net) = unpack(word);
            let kept = match g.cmp(&generation) {
                std::cmp::Ordering::Equal => net,
                std::cmp::Ordering::Less => 0,
                std::cmp::Ordering::Greater => return None,
            };
            Some(pack(generation, total(kept) as i32))
        });
        let Some(old) = replaced else {
            return 0;
        };
        let (g, net) = unpack(old);
        let kept = if g == generation { net } else { 0 };
        if g != generation && net != 0 {
            self.balance.fetch_sub(i64::from(net), AcqRel);
        }
        total(kept) - i64::from(kept)
    }

    /// Takes expired slots' amounts out of the balance.
    fn expire(&self, now: u32) {
        for slot in 0..u64::from(SLOTS) {
            let emptied = self.slots.update(slot, |word| {
                let (g, net) = unpack(word);
                (net != 0 && !is_live(g, now)).then(|| pack(g, 0))
            });
            if let Some(old) = emptied {
                self.balance.fetch_sub(i64::from(unpack(old).1), AcqRel);
            }
        }
    }

    #[cfg(test)]
    fn retries_left(&self) -> i64 {
        let now = self.generation();
        self.flush(now);
        self.expire(now);
        let at = self.epoch.elapsed_nanos();
        let reserve = self.reserve.as_ref().map_or(0, |r| r.left(at));
        self.balance.load(Acquire) / RETRY_COST + reserve
    }
}

fn is_live(generation: u32, now: u32) -> bool {
    now.saturating_sub(generation) < SLOTS
}

fn pack(generation: u32, net: i32) -> u64 {
    (u64::from(generation) << 32) | u64::from(net as u32)
}

fn unpack(word: u64) -> (u32, i32) {
    ((word >> 32) as u32, word as u32 as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn finagle() -> Window {
        Window::new(Duration::from_secs(10), 0, 20.0)
    }

    fn withdraw_all(window: &Window) -> u32 {
        let mut n = 0;
        while window.try_withdraw().is_some() {
            n += 1;
        }
        n
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_lets_min_per_sec_through_at_most_and_refills_at_that_pace() {
        let window = Window::new(Duration::from_secs(10), 2, 0.0);
        assert_eq!(withdraw_all(&window), 2, "one second's worth, not ten");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(withdraw_all(&window), 1);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            withdraw_all(&window),
            2,
            "it never holds more than a second's worth"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_is_spent_only_after_the_deposits() {
        let window = Window::new(Duration::from_secs(10), 1, 100.0);
        window.deposit(3);
        assert_eq!(withdraw_all(&window), 3 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refund_gives_the_retry_back() {
        let window = Window::new(Duration::from_secs(10), 0, 100.0);
        window.deposit(2);
        let taken = window.try_withdraw().unwrap();
        assert_eq!(window.retries_left(), 1);
        window.refund(taken);
        assert_eq!(window.retries_left(), 2);
        // After expiry the withdrawal is back already; a late refund adds nothing.
        let taken = window.try_withdraw().unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        window.refund(taken);
        assert_eq!(window.retries_left(), 0, "the deposits expired too");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reserve_refund_comes_back_only_while_it_is_the_latest() {
        let window = Window::new(Duration::from_secs(10), 2, 0.0);
        let first = window.try_withdraw().unwrap();
        let second = window.try_withdraw().unwrap();
        window.refund(first);
        assert_eq!(
            window.retries_left(),
            0,
            "a later token stands behind it: lost"
        );
        window.refund(second);
        assert_eq!(window.retries_left(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_idle_for_ages_starts_from_its_reserve() {
        let window = Window::new(Duration::from_secs(10), 1, 20.0);
        for _ in 0..1000 {
            window.deposit(1);
        }
        tokio::time::advance(Duration::from_secs(3600 * 24 * 400)).await;
        assert_eq!(window.retries_left(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_adds_its_percentage_of_a_retry() {
        let window = finagle();
        for _ in 0..100 {
            window.deposit(1);
        }
        assert_eq!(withdraw_all(&window), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fractional_percentage_is_never_rounded_up() {
        // tower's TpsBudget turns 30 % into "one retry per 3 requests" (33 %).
        let window = Window::new(Duration::from_secs(10), 0, 30.0);
        for _ in 0..1000 {
            window.deposit(1);
        }
        assert_eq!(withdraw_all(&window), 300);
        let window = Window::new(Duration::from_secs(10), 0, 0.5);
        for _ in 0..999 {
            window.deposit(1);
        }
        assert_eq!(withdraw_all(&window), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_expire_after_the_ttl() {
        let window = finagle();
        for _ in 0..100 {
            window.deposit(1);
        }
        assert_eq!(window.retries_left(), 20);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(window.retries_left(), 0);
    }

    #[test]
    fn concurrent_callers_never_take_more_than_was_deposited() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let window =
            Arc::new(runtime.block_on(async { Window::new(Duration::from_secs(10), 0, 25.0) }));
        let taken = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let window = window.clone();
                    let runtime = &runtime;
                    scope.spawn(move || {
                        let _guard = runtime.enter();
                        let mut taken = 0;
                        for _ in 0..4000 {
                            window.deposit(1);
                            if window.try_withdraw().is_some() {
                                taken += 1;
                            }
                        }
                        taken
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        });
        let _guard = runtime.enter();
        let left = withdraw_all(&window);
        assert_eq!(taken + left, 8 * 4000 / 4);
    }
}
