//! The calls a breaker made since its last sync, counted without contention: one
//! counter per thread stripe, each on its own cache line, summed and emptied at the sync.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::circuit_breaker::window::Sample;

const STRIPES: usize = 8;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    calls: AtomicU64,
    /// Failures in the low half, slow calls in the high half.
    bad: AtomicU64,
}

/// Calls, failures and slow calls since the last [`take`](Counts::take).
#[derive(Debug, Default)]
pub(super) struct Counts {
    stripes: [Stripe; STRIPES],
}

impl Counts {
    /// Counts one call: one uncontended atomic addition for a success.
    #[inline]
    pub(super) fn add(&self, sample: Sample) {
        let stripe = &self.stripes[crate::homed::this_thread() as usize % STRIPES];
        stripe.calls.fetch_add(1, Relaxed);
        if sample.failure || sample.slow {
            let bad = u64::from(sample.failure) | u64::from(sample.slow) << 32;
            stripe.bad.fetch_add(bad, Relaxed);
        }
    }

    /// The counts so far, emptied: `(calls, failures, slow)`. A call counted while
    /// they are taken may land in this round or the next; failures and slow calls
    /// never exceed calls.
    pub(super) fn take(&self) -> (u64, u64, u64) {
        let (mut calls, mut failures, mut slow) = (0_u64, 0_u64, 0_u64);
        for stripe in &self.stripes {
            calls = calls.saturating_add(stripe.calls.swap(0, Relaxed));
            let bad = stripe.bad.swap(0, Relaxed);
            failures = failures.saturating_add(bad & u64::from(u32::MAX));
            slow = slow.saturating_add(bad >> 32);
        }
        (calls, failures.min(calls), slow.min(calls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_across_threads_and_empty_when_taken() {
        let counts = Counts::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..100 {
                        counts.add(Sample {
                            failure: i % 4 == 0,
                            slow: i % 10 == 0,
                        });
                    }
                });
            }
        });
        assert_eq!(counts.take(), (400, 100, 40));
        assert_eq!(counts.take(), (0, 0, 0));
    }
}
