//! Count-based sliding window: exactly the last `size` calls.
//!
//! `head` = gen | number of calls recorded in this generation; `slots[seq % size]` holds
//! the outcome bits of call `seq`, tagged with its generation; `counts` = gen | failures |
//! slow, kept equal to the sum of the slots' bits (every slot change adjusts the counts by
//! exactly what it replaced, so concurrent writers cannot make them drift). A reset stamps
//! every slot empty for the new generation, so a slot's tag is always the current or the
//! previous generation and never comes round to the current one by wrapping; a writer
//! that finds another generation in its slot overwrites it only while the head still
//! carries its own generation (otherwise it is a straggler and writes nothing). Resets of
//! one window never overlap: the engine serializes them and skips a reset whose
//! generation it has already left (`Engine::reset_window`).
//!
//! A success into a full window that holds no failure and no slow call changes nothing —
//! the last `size` calls are still all successes — so it is not written at all. That keeps
//! the healthy hot path free of shared writes.

use crate::sync::{AtomicU32, AtomicU64};
use std::sync::atomic::Ordering::*;

use super::{GEN_MASK, SEQ_MASK, Sample, Tally, gen_of, tag};

const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;

#[derive(Debug)]
pub(crate) struct CountWindow {
    head: AtomicU64,
    counts: AtomicU64,
    slots: Box<[AtomicU32]>,
}

/// A signed 21-bit field, read as a count (transiently negative values read as 0).
fn field(word: u64, shift: u32) -> u64 {
    let v = (word >> shift) & FIELD_MASK;
    if v >= 1 << (FIELD_BITS - 1) { 0 } else { v }
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        CountWindow {
            head: AtomicU64::new(0),
            counts: AtomicU64::new(0),
            slots: (0..size).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn size(&self) -> u64 {
        self.slots.len() as u64
    }

    #[inline]
    pub(super) fn success_changes_nothing(&self, generation: u64) -> bool {
        let head = self.head.load(Acquire);
        gen_of(head) == generation & GEN_MASK
            && head & SEQ_MASK >= self.size()
            && self.counts.load(Acquire) & (FIELD_MASK << FIELD_BITS | FIELD_MASK) == 0
    }

    pub(super) fn record(&self, generation: u64, sample: Sample) -> Option<Tally> {
        let generation = generation & GEN_MASK;
        let head = self.head.load(Acquire);
        if gen_of(head) != generation {
            return None;
        }
        if sample == Sample::default() && self.success_changes_nothing(generation) {
            return None;
        }
        self.record_slow(generation, head, sample)
    }

    #[cold]
    fn record_slow(&self, generation: u64, head: u64, sample: Sample) -> Option<Tally> {
        let seq = self.claim(generation, head)?;
        self.fill(generation, seq, sample)
    }

    /// Claims the next sequence number, unless the window was reset meanwhile.
    fn claim(&self, generation: u64, mut head: u64) -> Option<u64> {
        loop {
            if gen_of(head) != generation {
                return None;
            }
            match self
                .head
                .compare_exchange_weak(head, head + 1, AcqRel, Acquire)
            {
                Ok(_) => return Some(head & SEQ_MASK),
                Err(now) => head = now,
            }
        }
    }

    /// Writes call `seq` into its slot and the counts, and returns the tally it sees.
    fn fill(&self, generation: u64, seq: u64, sample: Sample) -> Option<Tally> {
        let slot = &self.slots[(seq % self.size()) as usize];
        let new = ((generation as u32) << 8) | sample.bits();
        let mut old = slot.load(Acquire);
        let old_bits = loop {
            let old_gen = u64::from(old >> 8);
            if old_gen != generation && gen_of(self.head.load(Acquire)) != generation {
                return None; // this call is a straggler from an older generation
            }
            match slot.compare_exchange_weak(old, new, AcqRel, Acquire) {
                Ok(_) => break if old_gen == generation { old & 0b11 } else { 0 },
                Err(now) => old = now,
            }
        };
        let delta_fail = i64::from(sample.failure) - i64::from(old_bits & 1);
        let delta_slow = i64::from(sample.slow) - i64::from(old_bits >> 1 & 1);
        let mut counts = self.counts.load(Acquire);
        let next = loop {
            if gen_of(counts) != generation {
                return None;
            }
            let fail = ((counts & FIELD_MASK) as i64 + delta_fail) as u64 & FIELD_MASK;
            let slow =
                ((counts >> FIELD_BITS & FIELD_MASK) as i64 + delta_slow) as u64 & FIELD_MASK;
            let next = tag(generation, slow << FIELD_BITS | fail);
            match self
                .counts
                .compare_exchange_weak(counts, next, AcqRel, Acquire)
            {
                Ok(_) => break next,
                Err(now) => counts = now,
            }
        };
        // The calls are read after the counts: every writer whose outcome is in the
        // counts claimed its call before, so the last writer judges all of them.
        let head = self.head.load(Acquire);
        if gen_of(head) != generation {
            return None;
        }
        Some(Tally {
            calls: (head & SEQ_MASK).min(self.size()),
            failures: field(next, 0),
            slow: field(next, FIELD_BITS),
        })
    }

    pub(super) fn reset(&self, generation: u64) {
        // Counts first: a writer that already claimed a slot under the old generation
        // then fails its counts update and leaves the new generation untouched.
        let generation = generation & GEN_MASK;
        // Swaps, not stores: see `crate::sync` on model checking.
        self.counts.swap(tag(generation, 0), AcqRel);
        self.head.swap(tag(generation, 0), AcqRel);
        self.stamp_slots(generation);
    }

    fn stamp_slots(&self, generation: u64) {
        // Every slot is stamped empty for the new generation, so no slot keeps a
        // generation older than the previous one: however many generations pass, an
        // unwritten slot can never carry the current generation's tag by wrapping. A
        // slot a writer of the new generation already filled is left alone; a
        // straggler's write is stamped over.
        let empty = (generation as u32) << 8;
        for slot in self.slots.iter() {
            let mut old = slot.load(Acquire);
            while u64::from(old >> 8) != generation {
                match slot.compare_exchange_weak(old, empty, AcqRel, Acquire) {
                    Ok(_) => break,
                    Err(now) => old = now,
                }
            }
        }
    }

    pub(super) fn tally(&self) -> Tally {
        let head = self.head.load(Acquire);
        let counts = self.counts.load(Acquire);
        Tally {
            calls: (head & SEQ_MASK).min(self.size()),
            failures: field(counts, 0),
            slow: field(counts, FIELD_BITS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FAIL, GEN_BITS, OK};
    use super::*;

    #[test]
    fn count_window_slides_with_every_call() {
        let w = CountWindow::new(4);
        w.reset(1);
        for _ in 0..4 {
            w.record(1, FAIL);
        }
        assert_eq!(w.tally().failures, 4);
        for expected in [3, 2, 1, 0] {
            w.record(1, OK);
            assert_eq!(w.tally().failures, expected);
        }
        assert_eq!(w.tally().calls, 4);
    }

    #[test]
    fn count_window_ignores_other_generations() {
        let w = CountWindow::new(4);
        w.reset(2);
        assert_eq!(w.record(1, FAIL), None);
        assert_eq!(w.tally(), Tally::default());
    }

    #[test]
    fn count_window_treats_old_slots_as_empty_after_reset() {
        let w = CountWindow::new(2);
        w.reset(1);
        w.record(1, FAIL);
        w.record(1, FAIL);
        w.reset(2);
        let tally = w.record(2, OK).unwrap();
        assert_eq!(
            tally,
            Tally {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn the_last_of_two_racing_writers_sees_both_calls() {
        // Two failures claim calls 9 and 10 of a window of 10; the one that claimed
        // first updates the counts last and must judge all ten calls.
        let w = CountWindow::new(10);
        w.reset(1);
        for _ in 0..8 {
            w.record(1, OK);
        }
        let first = w.claim(1, w.head.load(Acquire)).unwrap();
        let second = w.claim(1, w.head.load(Acquire)).unwrap();
        assert_eq!(w.fill(1, second, FAIL).unwrap().failures, 1);
        assert_eq!(
            w.fill(1, first, FAIL).unwrap(),
            Tally {
                calls: 10,
                failures: 2,
                slow: 0
            }
        );
    }

    #[test]
    fn count_window_counts_every_call_after_the_generations_wrap() {
        // Every generation fills the first 4 slots only (a breaker that trips at its
        // minimum number of calls); the other slots are written in full only every
        // 1.5 × 2^20 generations, to check that every call still counts. Through three
        // wraps of the 21-bit generations, it must.
        let w = CountWindow::new(16);
        w.reset(1);
        for _ in 0..16 {
            w.record(1, OK);
        }
        for generation in 2..(3 << GEN_BITS) {
            w.reset(generation);
            for _ in 0..4 {
                w.record(generation, FAIL);
            }
            if generation % (3 << (GEN_BITS - 2)) == 0 {
                for _ in 0..100 {
                    w.record(generation, FAIL);
                }
                let full = Tally {
                    calls: 16,
                    failures: 16,
                    slow: 0,
                };
                assert_eq!(w.tally(), full, "generation {generation}");
            }
        }
    }

    #[test]
    fn count_window_turns_away_a_straggler_whose_slot_was_stamped() {
        let w = CountWindow::new(2);
        w.reset(1);
        let seq = w.claim(1, w.head.load(Acquire)).unwrap();
        w.reset(2);
        assert_eq!(w.fill(1, seq, FAIL), None);
        assert_eq!(w.tally(), Tally::default());
        assert_eq!(w.record(2, FAIL).unwrap().failures, 1);
    }

    #[test]
    fn count_window_reset_keeps_a_slot_the_new_generation_already_wrote() {
        // A writer of the new generation fills its slot while the reset is still
        // stamping: its call must stay counted in the slot and in the counts alike.
        let w = CountWindow::new(2);
        w.reset(1);
        w.record(1, OK);
        w.counts.store(tag(2, 0), Release);
        w.head.store(tag(2, 0), Release);
        w.record(2, FAIL);
        w.stamp_slots(2);
        w.record(2, OK);
        w.record(2, OK); // replaces the failure: the counts must go back to zero
        assert_eq!(w.tally().failures, 0);
        assert_eq!(w.tally().calls, 2);
    }
}
