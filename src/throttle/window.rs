//! The throttle's sliding window: requests and accepts per time bucket, lock-free.
//!
//! Each bucket of the shared ring ([`crate::ring`]) is one word, `stamp (22 bits) |
//! requests (21) | accepts (21)`, where the stamp is the bucket's index in time (modulo
//! 2^22). A bucket whose stamp is not within the window counts as empty and is reset by
//! the first call that lands in it. A bucket that would overflow halves both counts
//! first, which keeps their ratio.

use crate::ring::{Packing, Ring};

/// Requests and accepts: 21 bits each, under a 22-bit stamp.
const PACKING: Packing = Packing {
    fields: 2,
    bits: 21,
};
#[cfg(test)]
const COUNT_MASK: u64 = (1 << 21) - 1;

/// Requests and accepts seen over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    pub(crate) accepts: u64,
}

#[derive(Debug)]
pub(crate) struct Window {
    ring: Ring,
}

impl Window {
    pub(crate) fn new(buckets: u32) -> Self {
        // Stamps start one full wrap "ago", so every bucket begins empty.
        let old = PACKING.word(PACKING.tag_mask(), [0; 3]);
        Window {
            ring: Ring::new(buckets, old),
        }
    }

    /// Adds one request (and one accept, if `accepted`) to the bucket of time `index`.
    pub(crate) fn record(&self, index: u64, accepted: bool) {
        let add = [1, u64::from(accepted), 0];
        self.ring
            .update(index, |word| Some(PACKING.add(word, index, add)));
    }

    /// The counts of the buckets of times `index − len + 1 ..= index`.
    pub(crate) fn counts(&self, index: u64) -> Counts {
        let now = index & PACKING.tag_mask();
        let mut total = Counts::default();
        for word in self.ring.words() {
            let stamp = PACKING.tag(word);
            if now.wrapping_sub(stamp) & PACKING.tag_mask() < self.ring.len() {
                let [requests, accepts, _] = PACKING.counts(word);
                total.requests += requests;
                total.accepts += accepts;
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
