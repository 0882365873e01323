//! Common random numbers: the luck of attempt `a` of call `c` under seed `s` is the same
//! whatever stack sent it, so stacks are compared on the same draws.

/// The draws of one attempt.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Luck {
    key: u64,
}

impl Luck {
    pub(crate) fn new(seed: u64, call: u64, attempt: u32) -> Self {
        let key = mix(mix(seed ^ 0x5EA_3A11) ^ call) ^ u64::from(attempt).rotate_left(40);
        Luck { key: mix(key) }
    }

    /// Uniform draw number `k` from `[0, 1)`.
    pub(crate) fn unit(&self, k: u64) -> f64 {
        (mix(self.key ^ mix(k + 1)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal draw number `k` (Box–Muller over two uniform draws).
    pub(crate) fn normal(&self, k: u64) -> f64 {
        let u1 = self.unit(2 * k + 100).max(f64::MIN_POSITIVE);
        let u2 = self.unit(2 * k + 101);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// A seeded source of random numbers for the stack under test, such as tower's p2c
/// balancer's choices (`Balance::from_rng(discover, SeededRng::new(7))`), so that a
/// report repeats byte for byte (SplitMix64).
///
/// ```
/// use seawall::sim::SeededRng;
/// use tower::util::rng::Rng;
/// let (mut a, mut b) = (SeededRng::new(7), SeededRng::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// let mut c = SeededRng::new(8);
/// assert!((0..100).all(|_| a.next_u64() != c.next_u64()));
/// ```
#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A source seeded with `seed`.
    ///
    /// ```
    /// # use seawall::sim::SeededRng;
    /// let rng = SeededRng::new(1);
    /// # let _ = rng;
    /// ```
    pub fn new(seed: u64) -> Self {
        SeededRng(mix(seed))
    }
}

impl tower::util::rng::Rng for SeededRng {
    fn next_u64(&mut self) -> u64 {
        // Each seed starts its own walk (the seed mixed), so nearby seeds do not share
        // their draws shifted by one.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
}

/// SplitMix64's finalizer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luck_depends_on_seed_call_and_attempt_only() {
        assert_eq!(Luck::new(1, 2, 3).unit(0), Luck::new(1, 2, 3).unit(0));
        assert_ne!(Luck::new(1, 2, 3).unit(0), Luck::new(1, 2, 4).unit(0));
        assert_ne!(Luck::new(1, 2, 3).unit(0), Luck::new(1, 3, 3).unit(0));
        assert_ne!(Luck::new(1, 2, 3).unit(0), Luck::new(2, 2, 3).unit(0));
        let n = 20_000;
        let units: Vec<f64> = (0..n).map(|c| Luck::new(7, c, 1).unit(0)).collect();
        let mean = units.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let normals: Vec<f64> = (0..n).map(|c| Luck::new(7, c, 1).normal(0)).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
