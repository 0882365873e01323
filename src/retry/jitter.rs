//! Jitter: how a backoff's delay is spread at random.
//!
//! Plain arithmetic over uniform draws from `[0, 1)`, tested without tokio.

use super::backoff::Progress;

/// How a delay is spread at random, so that clients that failed together do not all
/// retry at the same instant. No jittered delay exceeds the backoff's maximum.
///
/// `d` below is the backoff's delay for this retry, already capped at its maximum.
///
/// ```
/// use seawall::retry::{Jitter, RetryLayer};
/// use std::time::Duration;
///
/// let layer = RetryLayer::builder()
///     .exponential(Duration::from_millis(50), 2.0, Duration::from_secs(2))
///     .jitter(Jitter::Equal)
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly `d`. Clients that failed together retry together: use only when there
    /// is one client.
    None,
    /// Uniform in `[0, d)` (AWS "full jitter"): spreads retries the most, and on average
    /// waits half as long. The default.
    Full,
    /// `d/2` plus uniform in `[0, d/2)`: never less than half the backoff.
    Equal,
    /// AWS "decorrelated jitter": uniform in `[initial, 3 × previous delay)`, capped at
    /// the maximum. Grows on its own, so the shape's step or multiplier is not used; when
    /// it reaches the cap it tends to stick there.
    Decorrelated,
    /// Polly's "decorrelated jitter v2": delays whose median follows an exponential curve
    /// from `initial` (doubling per retry) with a smooth spread and none of the clamping
    /// spikes of [`Decorrelated`](Self::Decorrelated). The shape's step or multiplier is
    /// not used.
    DecorrelatedV2,
    /// Uniform in `[d(1 − x), d(1 + x)]` (gRPC uses `x = 0.2`), with the part above the
    /// maximum cut off before drawing, so that delays spread below the cap instead of
    /// piling up on it (the breaker's open-duration jitter is the same model). Allowed:
    /// `x` in `[0, 1)`.
    Proportional(f64),
}

impl Jitter {
    /// `d`, the capped delay in seconds, spread by this jitter; `max` is the cap and
    /// `initial` the shape's first delay. Draws from `unit` only when the jitter needs a
    /// number. The result may pass the cap: the caller clamps it.
    pub(super) fn spread(
        self,
        d: f64,
        max: f64,
        initial: f64,
        retry: u32,
        progress: &mut Progress,
        mut unit: impl FnMut() -> f64,
    ) -> f64 {
        match self {
            Jitter::None => d,
            Jitter::Full => d * unit(),
            Jitter::Equal => d / 2.0 + d / 2.0 * unit(),
            Jitter::Proportional(x) => crate::random::proportional(d, x, max, unit()),
            Jitter::Decorrelated => {
                let previous = if retry <= 1 {
                    initial
                } else {
                    progress.previous.as_secs_f64()
                };
                let high = (3.0 * previous).max(initial);
                initial + (high - initial) * unit()
            }
            Jitter::DecorrelatedV2 => {
                let point = decorrelated_v2_curve(f64::from(retry.saturating_sub(1)) + unit());
                let step = point - progress.curve;
                progress.curve = point;
                step * initial / V2_MEDIAN_SCALE
            }
        }
    }
}

/// Scales the v2 curve's steps so that the first delay's median is `initial`.
const V2_MEDIAN_SCALE: f64 = 1.4;

/// The decorrelated-v2 curve: rises like `2^t`, but starts from zero smoothly, so that
/// successive differences of random points on it are spread without spikes.
fn decorrelated_v2_curve(t: f64) -> f64 {
    t.exp2() * (4.0 * t).sqrt().tanh()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::random::Draws;
    use crate::retry::backoff::tests::{MS, delays, exponential, run};
    use crate::retry::backoff::{Delays, Shape};

    /// Many first-`n` sequences, each from its own seed.
    fn samples(d: &Delays, n: u32, calls: u64) -> Vec<Vec<Duration>> {
        (0..calls).map(|seed| run(d, n, seed)).collect()
    }

    fn mean(xs: impl Iterator<Item = Duration>) -> f64 {
        let v: Vec<f64> = xs.map(|d| d.as_secs_f64()).collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn full_jitter_stays_below_the_capped_delay_and_averages_half_of_it() {
        let d = delays(exponential(), 300 * MS, Jitter::Full);
        let all = samples(&d, 4, 4000);
        for seq in &all {
            for (i, delay) in seq.iter().enumerate() {
                let bound = [100 * MS, 200 * MS, 300 * MS, 300 * MS][i];
                assert!(*delay <= bound, "retry {} waited {delay:?}", i + 1);
            }
        }
        let third = mean(all.iter().map(|s| s[2]));
        assert!((third - 0.150).abs() < 0.010, "mean {third}");
    }

    #[test]
    fn equal_jitter_stays_between_half_and_all_of_the_delay() {
        let d = delays(exponential(), Duration::from_secs(10), Jitter::Equal);
        let all = samples(&d, 2, 4000);
        for seq in &all {
            assert!((50 * MS..=100 * MS).contains(&seq[0]), "{:?}", seq[0]);
            assert!((100 * MS..=200 * MS).contains(&seq[1]), "{:?}", seq[1]);
        }
        let second = mean(all.iter().map(|s| s[1]));
        assert!((second - 0.150).abs() < 0.006, "mean {second}");
    }

    #[test]
    fn proportional_jitter_spreads_by_the_fraction_and_never_passes_the_cap() {
        let d = delays(
            Shape::Constant(MS * 1000),
            Duration::from_secs(1),
            Jitter::Proportional(0.2),
        );
        let all = samples(&d, 1, 4000);
        for seq in &all {
            assert!((800 * MS..=1000 * MS).contains(&seq[0]), "{:?}", seq[0]);
        }
        // At the cap the range is cut before drawing: the draws spread evenly below it,
        // none pile up on it.
        let capped = all
            .iter()
            .filter(|s| s[0] == Duration::from_secs(1))
            .count();
        assert!(capped < 10, "{capped} on the cap");
        let m = mean(all.iter().map(|s| s[0]));
        assert!((m - 0.9).abs() < 0.01, "mean {m}");
        let uncapped = delays(
            Shape::Constant(MS * 1000),
            Duration::from_secs(2),
            Jitter::Proportional(0.2),
        );
        let m = mean(samples(&uncapped, 1, 4000).iter().map(|s| s[0]));
        assert!((m - 1.0).abs() < 0.01, "mean {m}");
    }

    #[test]
    fn decorrelated_jitter_draws_between_initial_and_three_times_the_previous_delay() {
        let d = delays(exponential(), Duration::from_secs(2), Jitter::Decorrelated);
        for seq in samples(&d, 8, 2000) {
            let mut previous = 100 * MS;
            for delay in seq {
                assert!(delay >= 100 * MS && delay <= (previous * 3).min(Duration::from_secs(2)));
                previous = delay;
            }
        }
    }

    #[test]
    fn decorrelated_v2_first_delay_has_the_initial_delay_as_median() {
        let d = delays(
            Shape::Constant(MS * 1000),
            Duration::from_secs(60),
            Jitter::DecorrelatedV2,
        );
        let mut firsts: Vec<Duration> = samples(&d, 1, 4001).into_iter().map(|s| s[0]).collect();
        firsts.sort();
        let median = firsts[2000].as_secs_f64();
        assert!((median - 1.0).abs() < 0.1, "median {median}");
    }

    #[test]
    fn decorrelated_v2_grows_about_twofold_per_retry_and_respects_the_cap() {
        let d = delays(
            exponential(),
            Duration::from_secs(5),
            Jitter::DecorrelatedV2,
        );
        let all = samples(&d, 10, 2000);
        let m4 = mean(all.iter().map(|s| s[3]));
        let m5 = mean(all.iter().map(|s| s[4]));
        assert!((1.6..2.4).contains(&(m5 / m4)), "ratio {}", m5 / m4);
        assert!(all.iter().flatten().all(|d| *d <= Duration::from_secs(5)));
    }

    #[test]
    fn no_jitter_kind_ever_exceeds_the_cap() {
        let kinds = [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
            Jitter::DecorrelatedV2,
            Jitter::Proportional(0.99),
        ];
        let cap = 700 * MS;
        for jitter in kinds {
            let d = delays(exponential(), cap, jitter);
            for seq in samples(&d, 30, 300) {
                assert!(seq.iter().all(|d| *d <= cap), "{jitter:?}: {seq:?}");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let d = delays(exponential(), Duration::from_secs(10), Jitter::Full);
        assert_eq!(run(&d, 5, 42), run(&d, 5, 42));
        assert_ne!(run(&d, 5, 42), run(&d, 5, 43));
    }

    #[test]
    fn draws_are_uniform_in_the_unit_interval() {
        let draws = Draws::new(7);
        let v: Vec<f64> = (0..10_000).map(|_| draws.unit()).collect();
        assert!(v.iter().all(|u| (0.0..1.0).contains(u)));
        let below_half = v.iter().filter(|u| **u < 0.5).count();
        assert!((4800..5200).contains(&below_half), "{below_half}");
    }
}
