//! Time-based sliding window: the last `buckets × bucket_ms`, one bucket per period.
//!
//! Each bucket of the shared ring ([`crate::ring`]) is one word: tag (22 bits) | calls |
//! failures | slow (14 bits each). The tag
//! is the low 4 bits of the generation and the low 18 bits of the period's lap (period /
//! buckets). A writer whose bucket holds another tag replaces it; the tally reads only
//! buckets tagged with the current generation and lap. A bucket that would overflow
//! halves its three counts, which keeps both rates. Laps wrap: a bucket nobody wrote for
//! exactly a multiple of 2^18 laps (each at least 2^18 periods: three days of 1 s buckets)
//! would match its tag again, for that one lap.
//!
//! `generation` holds the whole current generation. A writer checks it after loading its
//! bucket and before each compare-and-swap, so a straggler is turned away. A reset stores
//! the generation first and then stamps every bucket with it, so a writer that passed the
//! check just before a reset finds its bucket changed and checks again. (It could slip
//! through only if, while it waited, the generation moved on by a multiple of 16 and its
//! bucket came back to the very word it had loaded.) A call of the new generation that
//! ends while the reset is stamping may be wiped with its bucket: at most the calls of
//! those few nanoseconds, never one of an older generation counted.

use crate::sync::AtomicU64;
use std::sync::atomic::Ordering::*;

use super::{GEN_MASK, Sample, Tally};
use crate::ring::{Packing, Ring};

const TAG_BITS: u32 = 22;
const LAP_BITS: u32 = 18;
/// Calls, failures, slow calls: 14 bits each, under a 22-bit tag.
const PACKING: Packing = Packing {
    fields: 3,
    bits: 14,
};
#[cfg(test)]
const COUNT_MASK: u64 = (1 << 14) - 1;

#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_ms: u64,
    generation: AtomicU64,
    ring: Ring,
}

/// The tag of a bucket written under `generation` in lap `lap`.
fn bucket_tag(generation: u64, lap: u64) -> u64 {
    (generation << LAP_BITS | lap & ((1 << LAP_BITS) - 1)) & ((1 << TAG_BITS) - 1)
}

impl TimeWindow {
    pub(crate) fn new(buckets: u32, bucket_ms: u64) -> Self {
        TimeWindow {
            bucket_ms,
            generation: AtomicU64::new(0),
            ring: Ring::new(buckets, 0),
        }
    }

    /// The tag of `period`'s bucket under `generation`.
    fn tag(&self, generation: u64, period: u64) -> u64 {
        bucket_tag(generation, self.ring.lap(period))
    }

    pub(super) fn record(&self, generation: u64, sample: Sample, now_ms: u64) -> Option<Tally> {
        let generation = generation & GEN_MASK;
        let period = now_ms / self.bucket_ms;
        let tag = self.tag(generation, period);
        let add = [1, u64::from(sample.failure), u64::from(sample.slow)];
        let written = self.ring.update(period, |word| {
            // Checked before every compare-and-swap: a straggler is turned away.
            (self.generation.load(Acquire) == generation).then(|| PACKING.add(word, tag, add))
        });
        written.map(|_| self.tally(now_ms))
    }

    pub(super) fn reset(&self, generation: u64) {
        let generation = generation & GEN_MASK;
        self.generation.store(generation, Release);
        self.ring
            .fill(PACKING.word(bucket_tag(generation, 0), [0; 3]));
    }

    pub(super) fn tally(&self, now_ms: u64) -> Tally {
        let generation = self.generation.load(Acquire);
        let current = now_ms / self.bucket_ms;
        let mut tally = Tally::default();
        for back in 0..self.ring.len().min(current + 1) {
            let period = current - back;
            let word = self.ring.read(period);
            if PACKING.tag(word) == self.tag(generation, period) {
                let [calls, failures, slow] = PACKING.counts(word);
                tally.calls += calls;
                tally.failures += failures;
                tally.slow += slow;
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FAIL, OK};
    use super::*;

    #[test]
    fn time_window_forgets_old_buckets() {
        let w = TimeWindow::new(4, 100);
        w.record(0, FAIL, 0);
        w.record(0, OK, 150);
        assert_eq!(
            w.tally(399),
            Tally {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
        assert_eq!(
            w.tally(400),
            Tally {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(w.tally(600), Tally::default());
    }

    #[test]
    fn time_window_ignores_other_generations() {
        let w = TimeWindow::new(4, 100);
        w.reset(2);
        assert_eq!(w.record(1, FAIL, 0), None);
        assert_eq!(w.record(3, FAIL, 0), None);
        assert_eq!(w.tally(0), Tally::default());
    }

    #[test]
    fn time_window_starts_empty_after_reset() {
        let w = TimeWindow::new(4, 100);
        w.record(0, FAIL, 0);
        w.reset(1);
        assert_eq!(w.tally(0), Tally::default());
        assert_eq!(
            w.record(1, OK, 50),
            Some(Tally {
                calls: 1,
                failures: 0,
                slow: 0
            })
        );
    }

    #[test]
    fn time_window_reset_hides_buckets_it_has_not_stamped_yet() {
        let w = TimeWindow::new(2, 100);
        w.record(0, FAIL, 0);
        // A reset to generation 1 that has stored the generation but not yet stamped
        // the buckets: the old failure must not count.
        w.generation.store(1, Release);
        assert_eq!(w.record(1, OK, 150).unwrap().failures, 0);
    }

    #[test]
    fn time_window_halves_a_full_bucket_keeping_the_rate() {
        let w = TimeWindow::new(1, 1000);
        for i in 0..(2 * COUNT_MASK) {
            w.record(0, if i % 2 == 0 { FAIL } else { OK }, 0);
        }
        let t = w.tally(0);
        assert!(t.calls > COUNT_MASK / 2);
        assert!((t.failure_rate() - 50.0).abs() < 1.0, "{t:?}");
    }
}
