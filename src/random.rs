//! Randomness for jitter: a lock-free, seedable stream of uniform draws.
//!
//! SplitMix64 over an atomic counter: each draw is one `fetch_add` and a few
//! multiplications, shared by every clone of a layer without a lock, and reproducible
//! from a seed (the default seed comes from `rand`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A shared stream of uniform draws.
#[derive(Debug)]
pub(crate) struct Draws(AtomicU64);

impl Draws {
    pub(crate) fn new(seed: u64) -> Self {
        Draws(AtomicU64::new(seed))
    }

    /// A uniform draw from `[0, 1)`.
    pub(crate) fn unit(&self) -> f64 {
        let mut z = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The one proportional jitter every layer uses: a draw `unit` from `[0, 1)` placed
/// evenly in `[d(1 − x), d(1 + x)]`, with the part of that range above `max` cut off
/// before drawing. At the cap the spread is all below it, and no value is more likely
/// than its neighbours (clamping after the draw would pile draws up on the cap, so
/// clients that backed off together would wake together).
pub(crate) fn proportional(d: f64, x: f64, max: f64, unit: f64) -> f64 {
    let low = d * (1.0 - x);
    let high = (d * (1.0 + x)).min(max);
    if high <= low {
        return high;
    }
    low + (high - low) * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_jitter_stays_in_its_range_and_below_the_cap() {
        assert_eq!(proportional(10.0, 0.2, 100.0, 0.0), 8.0);
        assert_eq!(proportional(10.0, 0.2, 100.0, 0.5), 10.0);
        assert!(proportional(10.0, 0.2, 11.0, 0.999_999) <= 11.0);
        assert_eq!(
            proportional(10.0, 0.2, 10.0, 0.5),
            9.0,
            "cut at the cap, then drawn"
        );
        assert_eq!(proportional(10.0, 0.0, 100.0, 0.7), 10.0);
    }

    #[test]
    fn draws_are_uniform_in_the_unit_interval_and_reproducible() {
        let (a, b) = (Draws::new(7), Draws::new(7));
        let draws: Vec<f64> = (0..10_000).map(|_| a.unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert_eq!(draws[..5], (0..5).map(|_| b.unit()).collect::<Vec<_>>()[..]);
    }
}
