//! The three ways a breaker judges health while closed, as lock-free data.
//!
//! Every window records samples for one *generation* of the breaker (a closed period).
//! A window is reset when the breaker (re-)enters a recording state; samples from calls
//! admitted under an older generation are discarded, so a straggler that finishes after a
//! state change can never corrupt the new counts.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

/// Generations are stored in 21 bits everywhere (see `state.rs`).
pub(crate) const GEN_BITS: u32 = 21;
pub(crate) const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// One finished, counted call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

impl Sample {
    fn bits(self) -> u32 {
        u32::from(self.failure) | (u32::from(self.slow) << 1)
    }
}

/// Calls, failures and slow calls currently in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Tally {
    /// Failure rate in percent (0 when there are no calls).
    pub(crate) fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Slow-call rate in percent (0 when there are no calls).
    pub(crate) fn slow_rate(&self) -> f64 {
        percent(self.slow, self.calls)
    }
}

pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The window kinds.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
    Consecutive(ConsecutiveWindow),
}

impl Window {
    /// Records a sample taken under generation `gen` at `now_ms` (only read by time
    /// windows). Returns the tally after recording, or `None` when nothing that could
    /// change a decision happened (stale generation, or a success into a healthy window).
    #[inline]
    pub(crate) fn record(&self, generation: u64, sample: Sample, now_ms: u64) -> Option<Tally> {
        match self {
            Window::Count(w) => w.record(generation, sample),
            Window::Time(w) => w.record(generation, sample, now_ms),
            Window::Consecutive(w) => w.record(generation, sample),
        }
    }

    /// Whether a success of generation `generation` would change nothing: the window
    /// is full of successes (count window) or holds no failure run (consecutive). Reads
    /// only; time windows always count.
    #[inline]
    pub(crate) fn success_changes_nothing(&self, generation: u64) -> bool {
        match self {
            Window::Count(w) => w.success_changes_nothing(generation),
            Window::Time(_) => false,
            Window::Consecutive(w) => w.word.load(Acquire) == tag(generation & GEN_MASK, 0),
        }
    }

    /// Empties the window for generation `gen`.
    pub(crate) fn reset(&self, generation: u64) {
        match self {
            Window::Count(w) => w.reset(generation),
            Window::Time(w) => w.reset(generation),
            Window::Consecutive(w) => w.reset(generation),
        }
    }

    /// What the window holds now.
    pub(crate) fn tally(&self, now_ms: u64) -> Tally {
        match self {
            Window::Count(w) => w.tally(),
            Window::Time(w) => w.tally(now_ms),
            Window::Consecutive(w) => w.tally(),
        }
    }

    /// Whether recording needs the current time.
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Window::Time(_))
    }
}

// ---------------------------------------------------------------------------------------
// Count-based sliding window: exactly the last `size` calls.
//
// `head` = gen | number of calls recorded in this generation; `slots[seq % size]` holds
// the outcome bits of call `seq`, tagged with its generation; `counts` = gen | failures |
// slow, kept equal to the sum of the slots' bits (every slot change adjusts the counts by
// exactly what it replaced, so concurrent writers cannot make them drift). A reset stamps
// every slot empty for the new generation, so a slot's tag is always the current or the
// previous generation and never comes round to the current one by wrapping; a writer
// that finds another generation in its slot overwrites it only while the head still
// carries its own generation (otherwise it is a straggler and writes nothing). Resets of
// one window never overlap: the engine serializes them and skips a reset whose
// generation it has already left (`Engine::reset_window`).
//
// A success into a full window that holds no failure and no slow call changes nothing —
// the last `size` calls are still all successes — so it is not written at all. That keeps
// the healthy hot path free of shared writes.

const SEQ_BITS: u32 = 64 - GEN_BITS;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;

#[derive(Debug)]
pub(crate) struct CountWindow {
    head: AtomicU64,
    counts: AtomicU64,
    slots: Box<[AtomicU32]>,
}

fn tag(generation: u64, value: u64) -> u64 {
    (generation & GEN_MASK) << SEQ_BITS | value
}

fn gen_of(word: u64) -> u64 {
    word >> SEQ_BITS
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
    fn success_changes_nothing(&self, generation: u64) -> bool {
        let head = self.head.load(Acquire);
        gen_of(head) == generation & GEN_MASK
            && head & SEQ_MASK >= self.size()
            && self.counts.load(Acquire) & (FIELD_MASK << FIELD_BITS | FIELD_MASK) == 0
    }

    fn record(&self, generation: u64, sample: Sample) -> Option<Tally> {
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

    fn reset(&self, generation: u64) {
        // Counts first: a writer that already claimed a slot under the old generation
        // then fails its counts update and leaves the new generation untouched.
        let generation = generation & GEN_MASK;
        self.counts.store(tag(generation, 0), Release);
        self.head.store(tag(generation, 0), Release);
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

    fn tally(&self) -> Tally {
        let head = self.head.load(Acquire);
        let counts = self.counts.load(Acquire);
        Tally {
            calls: (head & SEQ_MASK).min(self.size()),
            failures: field(counts, 0),
            slow: field(counts, FIELD_BITS),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Time-based sliding window: the last `buckets × bucket_ms`, one bucket per period.
//
// Each bucket is one word: tag (22 bits) | calls | failures | slow (14 bits each). The tag
// is the low 4 bits of the generation and the low 18 bits of the period's lap (period /
// buckets). A writer whose bucket holds another tag replaces it; the tally reads only
// buckets tagged with the current generation and lap. A bucket that would overflow
// halves its three counts, which keeps both rates. Laps wrap: a bucket nobody wrote for
// exactly a multiple of 2^18 laps (each at least 2^18 periods: three days of 1 s buckets)
// would match its tag again, for that one lap.
//
// `generation` holds the whole current generation. A writer checks it after loading its
// bucket and before each compare-and-swap, so a straggler is turned away. A reset stores
// the generation first and then stamps every bucket with it, so a writer that passed the
// check just before a reset finds its bucket changed and checks again. (It could slip
// through only if, while it waited, the generation moved on by a multiple of 16 and its
// bucket came back to the very word it had loaded.) A call of the new generation that
// ends while the reset is stamping may be wiped with its bucket: at most the calls of
// those few nanoseconds, never one of an older generation counted.

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

    fn record(&self, generation: u64, sample: Sample, now_ms: u64) -> Option<Tally> {
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

    fn reset(&self, generation: u64) {
        let generation = generation & GEN_MASK;
        self.generation.store(generation, Release);
        let empty = bucket_word(bucket_tag(generation, 0), 0, 0, 0);
        for bucket in self.buckets.iter() {
            bucket.store(empty, Release);
        }
    }

    fn tally(&self, now_ms: u64) -> Tally {
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

// ---------------------------------------------------------------------------------------
// Consecutive failures: one word, gen | failures in a row. A success resets it, and a
// success while the count is already zero writes nothing.

#[derive(Debug)]
pub(crate) struct ConsecutiveWindow {
    word: AtomicU64,
}

impl ConsecutiveWindow {
    pub(crate) fn new() -> Self {
        ConsecutiveWindow {
            word: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn record(&self, generation: u64, sample: Sample) -> Option<Tally> {
        let generation = generation & GEN_MASK;
        let bad = sample.failure || sample.slow;
        let mut word = self.word.load(Acquire);
        loop {
            if gen_of(word) != generation || (!bad && word & SEQ_MASK == 0) {
                return None;
            }
            let next = if bad {
                tag(generation, (word & SEQ_MASK) + 1)
            } else {
                tag(generation, 0)
            };
            match self.word.compare_exchange_weak(word, next, AcqRel, Acquire) {
                Ok(_) => {
                    let run = next & SEQ_MASK;
                    return Some(Tally {
                        calls: run,
                        failures: run,
                        slow: 0,
                    });
                }
                Err(now) => word = now,
            }
        }
    }

    pub(crate) fn reset(&self, generation: u64) {
        self.word.store(tag(generation, 0), Release);
    }

    fn tally(&self) -> Tally {
        let run = self.word.load(Acquire) & SEQ_MASK;
        Tally {
            calls: run,
            failures: run,
            slow: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Sample = Sample {
        failure: false,
        slow: false,
    };
    const FAIL: Sample = Sample {
        failure: true,
        slow: false,
    };

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

    #[test]
    fn consecutive_window_resets_on_success() {
        let w = ConsecutiveWindow::new();
        w.reset(3);
        w.record(3, FAIL);
        assert_eq!(w.record(3, FAIL).unwrap().failures, 2);
        w.record(3, OK);
        assert_eq!(w.tally().failures, 0);
        assert_eq!(w.record(3, OK), None);
    }
}
