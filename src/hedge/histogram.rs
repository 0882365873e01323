//! A lock-free latency histogram with microsecond resolution: log-linear buckets (eight
//! per power of two, so a bucket's width is at most an eighth of its values), one
//! relaxed atomic add per sample; a quantile is two passes over the counts, no
//! allocation.
//!
//! Why not `hdrhistogram`: recording there takes `&mut self`, so sharing it among a
//! layer's calls needs a lock on every sample or a recorder per thread merged later; a
//! hedge needs one shared, always-current percentile at an eighth's precision, which a
//! few hundred atomic counters give.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Sub-buckets per power of two.
const SUB: u64 = 8;
const SUB_BITS: u32 = 3;
/// Buckets: values below 8 µs one each, then eight per power of two up to 2^64 µs.
pub(crate) const BUCKETS: usize = (SUB as usize) * (64 - SUB_BITS as usize + 1);

/// Counts of samples by bucket.
#[derive(Debug)]
pub(crate) struct Histogram {
    counts: Box<[AtomicU64]>,
}

/// The bucket of `micros`.
fn index(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros(); // ≥ SUB_BITS
    let sub = (micros >> (exponent - SUB_BITS)) & (SUB - 1);
    ((exponent - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// The largest value of bucket `i` (a percentile read from buckets errs high, so a
/// hedge waits a little longer rather than firing early).
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exponent = i / SUB - 1 + u64::from(SUB_BITS);
    let sub = i % SUB;
    let low = (SUB + sub) << (exponent - u64::from(SUB_BITS));
    let width = 1u64 << (exponent - u64::from(SUB_BITS));
    low.saturating_add(width - 1)
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    /// Counts one sample.
    #[inline]
    pub(crate) fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.counts[index(micros)].fetch_add(1, Relaxed);
    }

    /// Samples counted.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The `q` quantile (0 to 1) of the samples of `self` and `other` together, as the
    /// upper end of its bucket; `None` with fewer than `at_least` samples. Two passes
    /// over the counts, no allocation (samples recorded between the passes shift the
    /// answer by at most their own weight).
    pub(crate) fn quantile_with(
        &self,
        other: &Histogram,
        q: f64,
        at_least: u64,
    ) -> Option<Duration> {
        let count = |i: usize| self.counts[i].load(Relaxed) + other.counts[i].load(Relaxed);
        let total: u64 = (0..BUCKETS).map(count).sum();
        if total == 0 || total < at_least {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for i in 0..BUCKETS {
            seen += count(i);
            if seen >= rank {
                return Some(Duration::from_micros(upper(i)));
            }
        }
        Some(Duration::from_micros(upper(BUCKETS - 1)))
    }

    /// Forgets every sample.
    pub(crate) fn clear(&self) {
        for count in self.counts.iter() {
            count.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_at_most_an_eighth_wide() {
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            assert!(upper(i) >= v, "{v} above its bucket's top {}", upper(i));
            if v >= SUB {
                assert!(
                    (upper(i) - v) as f64 <= v as f64 / 8.0,
                    "{v}: top {}",
                    upper(i)
                );
            }
            if i > 0 {
                assert!(upper(i - 1) < v, "{v} belongs lower");
            }
        }
    }

    #[test]
    fn quantiles_of_known_samples_are_within_an_eighth_and_never_low() {
        let h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let empty = Histogram::default();
        for (q, exact) in [(0.5, 500u64), (0.9, 900), (0.99, 990), (1.0, 1000)] {
            let got = h.quantile_with(&empty, q, 1).unwrap().as_secs_f64() * 1000.0;
            assert!(
                got >= exact as f64 && got <= exact as f64 * 1.125,
                "q{q}: {got} ms against {exact}"
            );
        }
        assert_eq!(h.quantile_with(&empty, 0.5, 2000), None, "too few samples");
        h.clear();
        assert_eq!(h.len(), 0);
    }
}
