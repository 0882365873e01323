//! Time-based sliding window: the last `buckets × bucket_ms`, one bucket per period.
//!
//! Each bucket is one word: tag (22 bits) | calls | failures | slow (14 bits each). The tag
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

use std::sync::atomic::{AtomicU64, Ordering::*};

use super::{GEN_MASK, Sample, Tally};

const TAG_BITS: u32 = 22;
const LAP_BITS: u32 = 18;
const COUNT_BITS: u32 = 14;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_ms: u64,
    generation: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

/// The tag of a bucket written under `generation` in lap `lap`.
fn bucket_tag(generation: u64, lap: u64) -> u64 {
    (generation << LAP_BITS | lap & ((1 << LAP_BITS) - 1)) & ((1 << TAG_BITS) - 1)
}

fn bucket_word(tag: u64, calls: u64, failures: u64, slow: u64) -> u64 {
    tag << (3 * COUNT_BITS) | calls << (2 * COUNT_BITS) | failures << COUNT_BITS | slow
}

fn unpack_bucket(word: u64) -> (u64, u64, u64, u64) {
    (
        word >> (3 * COUNT_BITS),
        word >> (2 * COUNT_BITS) & COUNT_MASK,
        word >> COUNT_BITS & COUNT_MASK,
        word & COUNT_MASK,
    )
}

impl TimeWindow {
    pub(crate) fn new(buckets: u32, bucket_ms: u64) -> Self {
        TimeWindow {
            bucket_ms,
            generation: AtomicU64::new(0),
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The bucket of the period at `now_ms` and the tag it has under `generation`.
    fn bucket(&self, generation: u64, now_ms: u64) -> (&AtomicU64, u64) {
        let period = now_ms / self.bucket_ms;
        let len = self.buckets.len() as u64;
        let tag = bucket_tag(generation, period / len);
        (&self.buckets[(period % len) as usize], tag)
    }

    pub(super) fn record(&self, generation: u64, sample: Sample, now_ms: u64) -> Option<Tally> {
        let generation = generation & GEN_MASK;
        let (bucket, tag) = self.bucket(generation, now_ms);
        let mut word = bucket.load(Acquire);
        loop {
            if self.generation.load(Acquire) != generation {
                return None;
            }
            let (old_tag, mut calls, mut failures, mut slow) = unpack_bucket(word);
            if old_tag != tag {
                (calls, failures, slow) = (0, 0, 0);
            }
            if calls == COUNT_MASK {
                (calls, failures, slow) = (calls / 2, failures / 2, slow / 2);
            }
            let next = bucket_word(
                tag,
                calls + 1,
                failures + u64::from(sample.failure),
                slow + u64::from(sample.slow),
            );
            match bucket.compare_exchange_weak(word, next, AcqRel, Acquire) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        Some(self.tally(now_ms))
    }

    pub(super) fn reset(&self, generation: u64) {
        let generation = generation & GEN_MASK;
        self.generation.store(generation, Release);
        let empty = bucket_word(bucket_tag(generation, 0), 0, 0, 0);
        for bucket in self.buckets.iter() {
            bucket.store(empty, Release);
        }
    }

    pub(super) fn tally(&self, now_ms: u64) -> Tally {
        let generation = self.generation.load(Acquire);
        let current = now_ms / self.bucket_ms;
        let len = self.buckets.len() as u64;
        let mut tally = Tally::default();
        for back in 0..len.min(current + 1) {
            let (bucket, tag) = self.bucket(generation, (current - back) * self.bucket_ms);
            let (old_tag, calls, failures, slow) = unpack_bucket(bucket.load(Acquire));
            if old_tag == tag {
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
