//! The calls a breaker made since its last sync, counted without contention and without
//! a read-modify-write: one stripe of running totals per thread (by the thread's number),
//! each on its own cache line, written only by the threads of that stripe with a plain
//! load and store. The sync reads the totals and sends what grew since its last read.
//!
//! Two threads that share a stripe (more threads than stripes) may overwrite each
//! other's addition, and a thread that stores late may even move a total back. So the
//! sync keeps, per stripe, the highest total it has read and counts only growth beyond
//! it: a lost or moved-back addition makes the counts come out low, never high (never a
//! batch of phantom calls or failures). The fleet's judgement needs rates and rough
//! volumes, not exact tallies; a locked addition would cost a third of the breaker's
//! whole call (measured: 5–6 ns on a 15–17 ns call).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::circuit_breaker::window::Sample;

const STRIPES: usize = 32;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    /// Running totals: calls, failures, slow calls.
    totals: [AtomicU64; 3],
    /// The highest totals the sync has read (read and written by the sync alone).
    seen: [AtomicU64; 3],
}

/// Calls, failures and slow calls since the last [`take`](Counts::take).
#[derive(Debug, Default)]
pub(super) struct Counts {
    stripes: [Stripe; STRIPES],
}

impl Counts {
    /// Counts one call: a load and a store to this thread's stripe (two more for a
    /// failure or a slow call).
    #[inline]
    pub(super) fn add(&self, sample: Sample) {
        let stripe = &self.stripes[crate::homed::this_thread() as usize % STRIPES];
        bump(&stripe.totals[0]);
        if sample.failure {
            bump(&stripe.totals[1]);
        }
        if sample.slow {
            bump(&stripe.totals[2]);
        }
    }

    /// The counts since the last take: `(calls, failures, slow)`, failures and slow
    /// calls capped at the calls. A call counted while they are taken lands in this
    /// round or the next.
    pub(super) fn take(&self) -> (u64, u64, u64) {
        let mut grown = [0_u64; 3];
        for stripe in &self.stripes {
            for ((total, seen), grown) in stripe.totals.iter().zip(&stripe.seen).zip(&mut grown) {
                let now = total.load(Relaxed);
                let before = seen.load(Relaxed);
                if now > before {
                    seen.store(now, Relaxed);
                    *grown = grown.saturating_add(now - before);
                }
            }
        }
        let [calls, failures, slow] = grown;
        (calls, failures.min(calls), slow.min(calls))
    }
}

#[inline]
fn bump(total: &AtomicU64) {
    total.store(total.load(Relaxed).wrapping_add(1), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn counts_add_up_across_threads_and_empty_when_taken() {
        let counts = Counts::default();
        std::thread::scope(|s| {
            // Four threads with numbers of their own: no stripe is shared.
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
        counts.add(Sample {
            failure: true,
            slow: false,
        });
        assert_eq!(counts.take(), (1, 1, 0));
    }

    #[test]
    fn a_total_moved_back_by_a_late_store_counts_nothing_until_it_grows_past_what_was_read() {
        let counts = Counts::default();
        let calls = &counts.stripes[0].totals[0];
        calls.store(10, Relaxed);
        assert_eq!(counts.take().0, 10);
        calls.store(6, Relaxed); // a thread stored its stale total plus one
        assert_eq!(counts.take(), (0, 0, 0));
        calls.store(12, Relaxed);
        assert_eq!(counts.take().0, 2);
    }

    /// Many more threads than stripes count calls, one in a thousand failing, while a
    /// sync takes the counts all along: no take is ever high, nor a phantom batch of
    /// failures.
    #[test]
    fn shared_stripes_count_low_never_high() {
        let counts = Counts::default();
        let stop = AtomicBool::new(false);
        let mut totals = (0_u64, 0_u64);
        std::thread::scope(|s| {
            for _ in 0..(STRIPES + 4) {
                s.spawn(|| {
                    let mut i = 0_u64;
                    while !stop.load(Relaxed) {
                        i += 1;
                        counts.add(Sample {
                            failure: i.is_multiple_of(1000),
                            slow: false,
                        });
                    }
                });
            }
            for _ in 0..100 {
                std::thread::sleep(std::time::Duration::from_micros(200));
                let (calls, failures, _) = counts.take();
                assert!(calls < 1 << 40, "a take of {calls} calls");
                assert!(
                    calls < 1000 || failures * 50 < calls,
                    "a phantom batch: {calls} calls, {failures} failures"
                );
                totals = (totals.0 + calls, totals.1 + failures);
            }
            stop.store(true, Relaxed);
        });
        assert!(
            totals.1 * 100 < totals.0,
            "{totals:?}: far above one in a thousand"
        );
    }
}
