//! One ring of time buckets for everything that keeps amounts by time: the breaker's
//! time window and the throttle's window (counts per bucket, packed by a [`Packing`]) and
//! the retry budget's slots (a signed amount per slot, which expires): one atomic word
//! per bucket, updated by compare-and-swap, no lock.
//!
//! A bucket word is `tag | count × fields`, each count `bits` wide. Period `p` lives in
//! bucket `p % len`; the caller's tag says which lap (and whatever else) a bucket belongs
//! to, so a bucket left from an earlier lap reads as empty and the first writer of the new
//! lap starts it from zero. A first count that would overflow halves every count first,
//! which keeps their ratios.

use crate::sync::AtomicU64;
use std::sync::atomic::Ordering::*;

/// The most counts a bucket holds.
pub(crate) const FIELDS: usize = 3;

/// How a kind of bucket packs its tag and counts into one word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Packing {
    /// Counts per bucket, at most [`FIELDS`].
    pub(crate) fields: u32,
    /// Bits per count; the tag gets what is left of 64.
    pub(crate) bits: u32,
}

impl Packing {
    const fn count_mask(self) -> u64 {
        (1 << self.bits) - 1
    }

    /// The largest tag a word can hold.
    pub(crate) const fn tag_mask(self) -> u64 {
        (1 << (64 - self.fields * self.bits)) - 1
    }

    /// The counts of `word`, the first first; fields past `fields` are 0.
    pub(crate) const fn counts(self, word: u64) -> [u64; FIELDS] {
        let mut out = [0; FIELDS];
        let mut i = 0;
        while i < self.fields as usize {
            let shift = (self.fields as usize - 1 - i) as u32 * self.bits;
            out[i] = word >> shift & self.count_mask();
            i += 1;
        }
        out
    }

    pub(crate) const fn tag(self, word: u64) -> u64 {
        word >> (self.fields * self.bits)
    }

    pub(crate) const fn word(self, tag: u64, counts: [u64; FIELDS]) -> u64 {
        let mut word = (tag & self.tag_mask()) << (self.fields * self.bits);
        let mut i = 0;
        while i < self.fields as usize {
            let shift = (self.fields as usize - 1 - i) as u32 * self.bits;
            word |= (counts[i] & self.count_mask()) << shift;
            i += 1;
        }
        word
    }

    /// `word` with `add` added to its counts under `tag`: a bucket of another tag starts
    /// from zero; a first count that would overflow halves every count first.
    pub(crate) const fn add(self, word: u64, tag: u64, add: [u64; FIELDS]) -> u64 {
        let mut counts = if self.tag(word) == tag & self.tag_mask() {
            self.counts(word)
        } else {
            [0; FIELDS]
        };
        let halve = counts[0] + add[0] > self.count_mask();
        let mut i = 0;
        while i < FIELDS {
            if halve {
                counts[i] /= 2;
            }
            counts[i] += add[i];
            i += 1;
        }
        self.word(tag, counts)
    }
}

/// The buckets.
#[derive(Debug)]
pub(crate) struct Ring {
    buckets: Box<[AtomicU64]>,
}

impl Ring {
    /// `len` buckets (at least one), each holding `empty`.
    pub(crate) fn new(len: u32, empty: u64) -> Self {
        Ring {
            buckets: (0..len.max(1)).map(|_| AtomicU64::new(empty)).collect(),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    /// The lap of `period`: how many times the ring has gone round before it.
    pub(crate) fn lap(&self, period: u64) -> u64 {
        period / self.len()
    }

    /// The word in the bucket of `period` now.
    pub(crate) fn read(&self, period: u64) -> u64 {
        self.bucket(period).load(Acquire)
    }

    /// Every bucket's word, in bucket order.
    pub(crate) fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.buckets.iter().map(|b| b.load(Acquire))
    }

    /// Replaces the word in the bucket of `period` with `next(word)`, by compare-and-swap
    /// until it sticks. `next` is asked again after every lost race, so it can turn a
    /// writer away (`None`) on state it reads; returns the word replaced, if it wrote.
    pub(crate) fn update(
        &self,
        period: u64,
        mut next: impl FnMut(u64) -> Option<u64>,
    ) -> Option<u64> {
        let bucket = self.bucket(period);
        let mut word = bucket.load(Acquire);
        loop {
            let new = next(word)?;
            match bucket.compare_exchange_weak(word, new, AcqRel, Acquire) {
                Ok(_) => return Some(word),
                Err(seen) => word = seen,
            }
        }
    }

    /// Sets every bucket to `word`.
    pub(crate) fn fill(&self, word: u64) {
        // Swaps, not stores: see `crate::sync` on model checking.
        for bucket in self.buckets.iter() {
            bucket.swap(word, AcqRel);
        }
    }

    fn bucket(&self, period: u64) -> &AtomicU64 {
        &self.buckets[(period % self.len()) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: Packing = Packing {
        fields: 3,
        bits: 14,
    };

    #[test]
    fn words_pack_and_unpack_their_tag_and_counts() {
        let word = THREE.word(5, [1, 2, 3]);
        assert_eq!((THREE.tag(word), THREE.counts(word)), (5, [1, 2, 3]));
        let two = Packing {
            fields: 2,
            bits: 21,
        };
        let word = two.word(two.tag_mask(), [7, 9, 0]);
        assert_eq!(
            (two.tag(word), two.counts(word)),
            (two.tag_mask(), [7, 9, 0])
        );
    }

    #[test]
    fn another_tag_starts_from_zero_and_a_full_count_halves_all() {
        let word = THREE.word(1, [10, 4, 2]);
        assert_eq!(THREE.counts(THREE.add(word, 2, [1, 1, 0])), [1, 1, 0]);
        let full = THREE.word(1, [(1 << 14) - 1, 1000, 10]);
        assert_eq!(THREE.counts(THREE.add(full, 1, [1, 0, 0])), [8192, 500, 5]);
    }

    #[test]
    fn a_turned_away_writer_writes_nothing() {
        let ring = Ring::new(2, 0);
        assert_eq!(ring.update(3, |_| None), None);
        assert_eq!(ring.update(3, |w| Some(w + 1)), Some(0));
        assert_eq!((ring.read(3), ring.read(1), ring.read(2)), (1, 1, 0));
        assert_eq!(ring.lap(3), 1);
    }
}
