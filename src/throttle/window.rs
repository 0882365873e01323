//! The throttle's sliding window: requests and accepts per time bucket, lock-free.
//!
//! Each bucket is one atomic word, `stamp (22 bits) | requests (21) | accepts (21)`, where
//! the stamp is the bucket's index in time (modulo 2^22). A bucket whose stamp is not
//! within the window counts as empty and is reset by the first call that lands in it. A
//! bucket that would overflow halves both counts first, which keeps their ratio.

use std::sync::atomic::{AtomicU64, Ordering::*};

const COUNT_BITS: u32 = 21;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const STAMP_SHIFT: u32 = 2 * COUNT_BITS;
const STAMP_MASK: u64 = (1 << (64 - STAMP_SHIFT)) - 1;

/// Requests and accepts seen over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    pub(crate) accepts: u64,
}

#[derive(Debug)]
pub(crate) struct Window {
    buckets: Box<[AtomicU64]>,
}

fn unpack(word: u64) -> (u64, Counts) {
    let counts = Counts {
        requests: (word >> COUNT_BITS) & COUNT_MASK,
        accepts: word & COUNT_MASK,
    };
    (word >> STAMP_SHIFT, counts)
}

fn pack(stamp: u64, counts: Counts) -> u64 {
    (stamp & STAMP_MASK) << STAMP_SHIFT | counts.requests << COUNT_BITS | counts.accepts
}

impl Window {
    pub(crate) fn new(buckets: u32) -> Self {
        // Stamps start one full wrap "ago", so every bucket begins empty.
        let old = pack(STAMP_MASK, Counts::default());
        Window {
            buckets: (0..buckets.max(1)).map(|_| AtomicU64::new(old)).collect(),
        }
    }

    fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    /// Adds one request (and one accept, if `accepted`) to the bucket of time `index`.
    pub(crate) fn record(&self, index: u64, accepted: bool) {
        let stamp = index & STAMP_MASK;
        let bucket = &self.buckets[(index % self.len()) as usize];
        let _ = bucket.fetch_update(AcqRel, Relaxed, |word| {
            let (seen, mut counts) = unpack(word);
            if seen != stamp {
                counts = Counts::default();
            }
            if counts.requests == COUNT_MASK {
                counts.requests /= 2;
                counts.accepts /= 2;
            }
            counts.requests += 1;
            counts.accepts += u64::from(accepted);
            Some(pack(stamp, counts))
        });
    }

    /// The counts of the buckets of times `index − len + 1 ..= index`.
    pub(crate) fn counts(&self, index: u64) -> Counts {
        let now = index & STAMP_MASK;
        let mut total = Counts::default();
        for bucket in self.buckets.iter() {
            let (stamp, counts) = unpack(bucket.load(Acquire));
            if now.wrapping_sub(stamp) & STAMP_MASK < self.len() {
                total.requests += counts.requests;
                total.accepts += counts.accepts;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_slide_out_of_the_window_bucket_by_bucket() {
        let w = Window::new(3);
        w.record(10, true);
        w.record(11, false);
        w.record(12, false);
        assert_eq!(
            w.counts(12),
            Counts {
                requests: 3,
                accepts: 1
            }
        );
        assert_eq!(
            w.counts(13),
            Counts {
                requests: 2,
                accepts: 0
            }
        );
        w.record(13, true);
        assert_eq!(
            w.counts(13),
            Counts {
                requests: 3,
                accepts: 1
            }
        );
        assert_eq!(w.counts(100), Counts::default());
    }

    #[test]
    fn a_full_bucket_halves_and_keeps_the_ratio() {
        let w = Window::new(1);
        for i in 0..(COUNT_MASK + 2) {
            w.record(0, i % 2 == 0);
        }
        let c = w.counts(0);
        assert!(c.requests < COUNT_MASK);
        let ratio = c.accepts as f64 / c.requests as f64;
        assert!((ratio - 0.5).abs() < 0.01, "{c:?}");
    }
}
