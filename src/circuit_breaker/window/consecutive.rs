//! Consecutive failures: one word, gen | failures in a row. A success resets it, and a
//! success while the count is already zero writes nothing.

use crate::sync::AtomicU64;
use std::sync::atomic::Ordering::*;

use super::{GEN_MASK, SEQ_MASK, Sample, Tally, gen_of, tag};

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

    /// The failures in a row at the newest end (of whichever generation wrote last).
    #[inline]
    pub(crate) fn run(&self) -> u64 {
        self.word.load(Relaxed) & SEQ_MASK
    }

    /// Whether a success of generation `generation` would change nothing: no failure run.
    #[inline]
    pub(super) fn success_changes_nothing(&self, generation: u64) -> bool {
        self.word.load(Acquire) == tag(generation & GEN_MASK, 0)
    }

    pub(crate) fn reset(&self, generation: u64) {
        // A swap, not a store: see `crate::sync` on model checking.
        self.word.swap(tag(generation, 0), AcqRel);
    }

    pub(super) fn tally(&self) -> Tally {
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
    use super::super::{FAIL, OK};
    use super::*;

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
