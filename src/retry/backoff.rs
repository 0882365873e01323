//! Delays between attempts: a backoff shape, capped, then spread by jitter.
//!
//! Everything here is plain arithmetic over uniform draws from `[0, 1)`, so it is tested
//! without tokio and without waiting.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::jitter::Jitter;

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
    pub(super) previous: Duration,
    /// The decorrelated-v2 curve's value at the previous retry.
    pub(super) curve: f64,
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
    unit: impl FnMut() -> f64,
) -> Duration {
    let d = shape.seconds(retry).min(max.as_secs_f64());
    let seconds = jitter.spread(
        d,
        max.as_secs_f64(),
        shape.initial().as_secs_f64(),
        retry,
        progress,
        unit,
    );
    clamp_seconds(seconds, max)
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
pub(super) mod tests {
    use super::*;
    use crate::random::Draws;

    pub(in crate::retry) const MS: Duration = Duration::from_millis(1);

    pub(in crate::retry) fn delays(shape: Shape, max: Duration, jitter: Jitter) -> Delays {
        Delays::Standard { shape, max, jitter }
    }

    pub(in crate::retry) fn exponential() -> Shape {
        Shape::Exponential {
            initial: 100 * MS,
            multiplier: 2.0,
        }
    }

    /// The first `n` delays of one call, drawing from a seeded stream.
    pub(in crate::retry) fn run(d: &Delays, n: u32, seed: u64) -> Vec<Duration> {
        let draws = Draws::new(seed);
        let mut progress = Progress::default();
        (1..=n)
            .map(|r| d.next(r, &mut progress, || draws.unit()))
            .collect()
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
}
