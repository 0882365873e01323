//! Statistical judging: trip only when the calls are strong evidence that the failure
//! (or slow-call) rate has reached its threshold, not when it was reached by chance.
//!
//! Two tests, either of which convinces:
//!
//! * **A run of failures.** `k` failures in a row happen with probability `t^k` if the
//!   true rate is `t`; a run with `t^k ≤ α` (`α = 1 − confidence`) rejects "the rate is
//!   below the threshold". At 50 % and 99.99 %, 14 failures in a row. A dependency that
//!   dies is caught within that many calls, however healthy the window was before.
//! * **The window's rate.** The lower end of the Wilson score interval of the window's
//!   rate (one-sided, at the confidence) is at or above the threshold. A 30 % brownout
//!   never convinces a 50 % breaker this way, and neither does an unlucky stretch.
//!
//! A threshold of 100 % cannot be proven by a sample; it is judged as observed.

/// A confidence in `(0.5, 1)`, ready to judge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Evidence {
    /// The confidence; `1 − confidence` is the chance of a spurious trip the tests accept.
    confidence: f64,
    /// The standard normal quantile of the confidence.
    z: f64,
}

/// Calls the window must hold before its rate is judged, unless set.
pub(crate) const WINDOW_MINIMUM: u32 = 20;

impl Evidence {
    pub(crate) fn new(confidence: f64) -> Self {
        Evidence {
            confidence,
            z: normal_quantile(confidence),
        }
    }

    pub(crate) fn confidence(&self) -> f64 {
        self.confidence
    }

    /// `(confidence, z)`, to keep in atomics.
    pub(crate) fn parts(self) -> (f64, f64) {
        (self.confidence, self.z)
    }

    pub(crate) fn from_parts(confidence: f64, z: f64) -> Self {
        Evidence { confidence, z }
    }

    /// Whether `run` failures in a row prove a rate of at least `percent`.
    pub(crate) fn run_convinces(&self, run: u64, percent: f64) -> bool {
        let t = percent / 100.0;
        if t >= 1.0 {
            return false;
        }
        run > 0 && (run as f64) * t.ln() <= (1.0 - self.confidence).ln()
    }

    /// Whether `count` of `calls` prove a rate of at least `percent`.
    pub(crate) fn rate_convinces(&self, count: u64, calls: u64, percent: f64) -> bool {
        if calls == 0 {
            return false;
        }
        let t = percent / 100.0;
        if t >= 1.0 {
            return count >= calls;
        }
        wilson_lower(count, calls, self.z) >= t
    }
}

/// The lower end of the Wilson score interval for `k` successes of `n` at quantile `z`.
fn wilson_lower(k: u64, n: u64, z: f64) -> f64 {
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (centre - spread) / (1.0 + z2 / n)
}

/// The standard normal quantile of `p` in `(0, 1)` (Acklam's rational approximation,
/// relative error below 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_the_tables() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_964),
            (0.999, 3.090_232),
            (0.9999, 3.719_016),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-5, "{p}");
        }
    }

    #[test]
    fn fourteen_failures_in_a_row_prove_half_at_four_nines() {
        let e = Evidence::new(0.9999);
        assert!(!e.run_convinces(13, 50.0));
        assert!(e.run_convinces(14, 50.0));
        assert!(e.run_convinces(5, 10.0) && !e.run_convinces(3, 10.0));
        assert!(
            !e.run_convinces(1_000, 100.0),
            "100 % is never proven by a run"
        );
    }

    #[test]
    fn a_window_at_the_threshold_does_not_convince_and_a_dead_one_does() {
        let e = Evidence::new(0.9999);
        assert!(!e.rate_convinces(30, 100, 50.0));
        assert!(
            !e.rate_convinces(60, 100, 50.0),
            "60 of 100 is no proof of 50 %"
        );
        assert!(e.rate_convinces(70, 100, 50.0));
        assert!(e.rate_convinces(20, 20, 50.0));
        assert!(e.rate_convinces(5, 5, 100.0) && !e.rate_convinces(4, 5, 100.0));
    }

    #[test]
    fn a_thirty_percent_brownout_never_convinces_a_fifty_percent_breaker() {
        // The binomial tail: even 60 failures of 100 (7 standard deviations above 30)
        // does not convince, so no window of a 30 % brownout does.
        let e = Evidence::new(0.9999);
        assert!((0..=60).all(|k| !e.rate_convinces(k, 100, 50.0)));
    }
}
