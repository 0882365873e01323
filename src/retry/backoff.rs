//! Delays between attempts: a backoff shape, capped, then spread by jitter.
//!
//! Everything here is plain arithmetic over uniform draws from `[0, 1)`, so it is tested
//! without tokio and without waiting.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How delays grow from one retry to the next, before the cap and jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shape {
    Constant(Duration),
    Linear { initial: Duration, step: Duration },
    Exponential { initial: Duration, multiplier: f64 },
}

impl Shape {
    /// The first delay: the base that the decorrelated jitters grow from.
    pub(crate) fn initial(&self) -> Duration {
        match *self {
            Shape::Constant(delay) => delay,
            Shape::Linear { initial, .. } | Shape::Exponential { initial, .. } => initial,
        }
    }

    /// The delay before retry `retry` (1 for the first retry), in seconds, uncapped.
    fn seconds(&self, retry: u32) -> f64 {
        let steps = retry.saturating_sub(1);
        match *self {
            Shape::Constant(delay) => delay.as_secs_f64(),
            Shape::Linear { initial, step } => {
                initial.as_secs_f64() + step.as_secs_f64() * f64::from(steps)
            }
            Shape::Exponential {
                initial,
                multiplier,
            } => initial.as_secs_f64() * multiplier.powi(i32::try_from(steps).unwrap_or(i32::MAX)),
        }
    }
}

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
    /// `d` scaled by a uniform factor in `[1 − x, 1 + x)` (gRPC uses `x = 0.2`), then
    /// capped. Allowed: `x` in `[0, 1)`.
    Proportional(f64),
}

/// Delays chosen by your own code instead of a built-in shape.
///
/// `retry` is 1 before the first retry (the second attempt); `previous` is the delay
/// this backoff returned for the retry before (zero before the first). Closures
/// `Fn(u32, Duration) -> Duration` implement it. A backoff that wants randomness may keep
/// a `rand` generator (behind a lock) or call `rand::random`.
///
/// ```
/// use seawall::retry::RetryLayer;
/// use std::time::Duration;
///
/// // Fibonacci-like growth, capped at 5 s.
/// let layer = RetryLayer::builder()
///     .backoff(|retry: u32, previous: Duration| {
///         let next = if retry == 1 { Duration::from_millis(100) } else { previous * 3 / 2 };
///         next.min(Duration::from_secs(5))
///     })
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
pub trait Backoff: Send + Sync {
    /// The delay before retry number `retry`.
    ///
    /// ```
    /// use seawall::retry::Backoff;
    /// use std::time::Duration;
    ///
    /// let doubling = |_: u32, previous: Duration| (previous * 2).max(Duration::from_millis(10));
    /// assert_eq!(doubling.delay(2, Duration::from_millis(10)), Duration::from_millis(20));
    /// ```
    fn delay(&self, retry: u32, previous: Duration) -> Duration;
}

impl<F> Backoff for F
where
    F: Fn(u32, Duration) -> Duration + Send + Sync,
{
    fn delay(&self, retry: u32, previous: Duration) -> Duration {
        self(retry, previous)
    }
}

/// The delays a retry layer was configured with.
#[derive(Clone)]
pub(crate) enum Delays {
    Standard {
        shape: Shape,
        max: Duration,
        jitter: Jitter,
    },
    Custom(Arc<dyn Backoff>),
}

impl fmt::Debug for Delays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delays::Standard { shape, max, jitter } => f
                .debug_struct("Standard")
                .field("shape", shape)
                .field("max", max)
                .field("jitter", jitter)
                .finish(),
            Delays::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// One call's position in its delays: what the jitters carry from one retry to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Progress {
    previous: Duration,
    /// The decorrelated-v2 curve's value at the previous retry.
    curve: f64,
}

impl Delays {
    /// The delay before retry `retry` (1 for the first), drawing uniform numbers in
    /// `[0, 1)` from `unit` only when the jitter needs them.
    pub(crate) fn next(
        &self,
        retry: u32,
        progress: &mut Progress,
        unit: impl FnMut() -> f64,
    ) -> Duration {
        let delay = match self {
            Delays::Standard { shape, max, jitter } => {
                standard(*shape, *max, *jitter, retry, progress, unit)
            }
            Delays::Custom(backoff) => backoff.delay(retry, progress.previous),
        };
        progress.previous = delay;
        delay
    }
}

fn standard(
    shape: Shape,
    max: Duration,
    jitter: Jitter,
    retry: u32,
    progress: &mut Progress,
    mut unit: impl FnMut() -> f64,
) -> Duration {
    let cap = max.as_secs_f64();
    let d = shape.seconds(retry).min(cap);
    let initial = shape.initial().as_secs_f64();
    let seconds = match jitter {
        Jitter::None => d,
        Jitter::Full => d * unit(),
        Jitter::Equal => d / 2.0 + d / 2.0 * unit(),
        Jitter::Proportional(x) => d * (1.0 + x * (2.0 * unit() - 1.0)),
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
    };
    clamp_seconds(seconds, max)
}

/// Scales the v2 curve's steps so that the first delay's median is `initial`.
const V2_MEDIAN_SCALE: f64 = 1.4;

/// The decorrelated-v2 curve: rises like `2^t`, but starts from zero smoothly, so that
/// successive differences of random points on it are spread without spikes.
fn decorrelated_v2_curve(t: f64) -> f64 {
    t.exp2() * (4.0 * t).sqrt().tanh()
}

/// `seconds` as a duration in `[0, max]`; anything not a number becomes `max`.
fn clamp_seconds(seconds: f64, max: Duration) -> Duration {
    if seconds.is_nan() || seconds >= max.as_secs_f64() {
        max
    } else if seconds <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(seconds).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Draws;

    const MS: Duration = Duration::from_millis(1);

    fn delays(shape: Shape, max: Duration, jitter: Jitter) -> Delays {
        Delays::Standard { shape, max, jitter }
    }

    fn exponential() -> Shape {
        Shape::Exponential {
            initial: 100 * MS,
            multiplier: 2.0,
        }
    }

    /// The first `n` delays of one call, drawing from a seeded stream.
    fn run(d: &Delays, n: u32, seed: u64) -> Vec<Duration> {
        let draws = Draws::new(seed);
        let mut progress = Progress::default();
        (1..=n)
            .map(|r| d.next(r, &mut progress, || draws.unit()))
            .collect()
    }

    /// Many first-`n` sequences, each from its own seed.
    fn samples(d: &Delays, n: u32, calls: u64) -> Vec<Vec<Duration>> {
        (0..calls).map(|seed| run(d, n, seed)).collect()
    }

    fn mean(xs: impl Iterator<Item = Duration>) -> f64 {
        let v: Vec<f64> = xs.map(|d| d.as_secs_f64()).collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn constant_backoff_repeats_its_delay() {
        let d = delays(
            Shape::Constant(250 * MS),
            Duration::from_secs(1),
            Jitter::None,
        );
        assert_eq!(run(&d, 4, 1), vec![250 * MS; 4]);
    }

    #[test]
    fn linear_backoff_adds_its_step_until_the_cap() {
        let shape = Shape::Linear {
            initial: 100 * MS,
            step: 50 * MS,
        };
        let d = delays(shape, 220 * MS, Jitter::None);
        assert_eq!(
            run(&d, 5, 1),
            vec![100 * MS, 150 * MS, 200 * MS, 220 * MS, 220 * MS]
        );
    }

    #[test]
    fn exponential_backoff_multiplies_until_the_cap() {
        let d = delays(exponential(), 500 * MS, Jitter::None);
        assert_eq!(
            run(&d, 5, 1),
            vec![100 * MS, 200 * MS, 400 * MS, 500 * MS, 500 * MS]
        );
    }

    #[test]
    fn exponential_backoff_saturates_at_the_cap_for_huge_retry_numbers() {
        let d = delays(exponential(), Duration::from_secs(30), Jitter::None);
        let mut progress = Progress::default();
        assert_eq!(
            d.next(u32::MAX, &mut progress, || 0.5),
            Duration::from_secs(30)
        );
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
        // Half of the draws are scaled up and then capped.
        let capped = all
            .iter()
            .filter(|s| s[0] == Duration::from_secs(1))
            .count();
        assert!((1800..2200).contains(&capped), "{capped} capped");
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
    fn a_custom_backoff_sees_the_retry_number_and_its_previous_delay() {
        let d = Delays::Custom(Arc::new(|retry: u32, previous: Duration| {
            previous + MS * retry
        }));
        assert_eq!(run(&d, 3, 0), vec![MS, 3 * MS, 6 * MS]);
    }

    #[test]
    fn delays_that_are_not_numbers_become_the_cap() {
        assert_eq!(clamp_seconds(f64::NAN, MS), MS);
        assert_eq!(clamp_seconds(f64::INFINITY, MS), MS);
        assert_eq!(clamp_seconds(-1.0, MS), Duration::ZERO);
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
