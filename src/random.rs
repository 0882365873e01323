//! Seedable, lock-free random draws for layers that need them (the throttle today).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A uniform draw from `[0, 1)`: SplitMix64 over an atomic counter, so concurrent callers
/// never lock and a seeded sequence is reproducible.
pub(crate) fn next_unit(state: &AtomicU64) -> f64 {
    let mut z = state.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
