//! The limit algorithms: AIMD, Gradient2 and Vegas, with Netflix concurrency-limits'
//! defaults.

use std::time::Duration;

/// Additive increase, multiplicative decrease: +1 after a successful call that found the
/// limiter at least half busy; × [`backoff_ratio`](Self::backoff_ratio) after a failed
/// call or one slower than [`timeout`](Self::timeout).
///
/// Defaults are Netflix concurrency-limits' `AIMDLimit`: backoff ratio 0.9, timeout 5 s.
/// It reacts to failures and to an absolute latency bound, not to latency trends.
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Aimd};
/// use std::time::Duration;
///
/// let aimd = Aimd::default().backoff_ratio(0.75).timeout(Duration::from_millis(500));
/// let layer = AdaptiveLimitLayer::builder(aimd).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Aimd {
    pub(crate) backoff_ratio: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::config::human::serde"))]
    pub(crate) timeout: Duration,
}

impl Default for Aimd {
    fn default() -> Self {
        Aimd {
            backoff_ratio: 0.9,
            timeout: Duration::from_secs(5),
        }
    }
}

impl Aimd {
    /// The factor the limit is multiplied by after a failed or too slow call.
    /// Allowed: `[0.5, 1)`. Default: 0.9.
    ///
    /// ```
    /// # use seawall::adaptive::Aimd;
    /// let aimd = Aimd::default().backoff_ratio(0.5);
    /// # let _ = aimd;
    /// ```
    pub fn backoff_ratio(mut self, ratio: f64) -> Self {
        self.backoff_ratio = ratio;
        self
    }

    /// A call slower than this counts as a drop, like a failure. Allowed: `(0s, 1 day]`.
    /// Default: 5 s.
    ///
    /// ```
    /// # use seawall::adaptive::Aimd;
    /// # use std::time::Duration;
    /// let aimd = Aimd::default().timeout(Duration::from_secs(1));
    /// # let _ = aimd;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Netflix's Gradient2: compares each call's latency with a long-term average latency,
/// and shrinks the limit when latency rises past a tolerance (queueing), grows it by a
/// small headroom while latency holds.
///
/// Per sample: `gradient = clamp(tolerance × long_rtt / rtt, 0.5, 1)`; the new limit is
/// `limit × gradient + queue_size`, smoothed as
/// `limit × (1 − smoothing) + new × smoothing`. The long-term average is exponential over
/// [`long_window`](Self::long_window) samples (a plain mean over the first 10), and decays
/// quickly when it is more than twice the current latency (recovery after overload). No
/// growth while fewer than half the permits are in use. Failures do not move this limit.
///
/// Defaults are Netflix concurrency-limits' `Gradient2Limit`: smoothing 0.2, tolerance
/// 1.5, long window 600 samples, queue size 4.
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Gradient2};
///
/// let gradient = Gradient2::default().rtt_tolerance(2.0).smoothing(0.1);
/// let layer = AdaptiveLimitLayer::builder(gradient).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Gradient2 {
    pub(crate) smoothing: f64,
    pub(crate) rtt_tolerance: f64,
    pub(crate) long_window: u32,
    pub(crate) queue_size: u32,
}

impl Default for Gradient2 {
    fn default() -> Self {
        Gradient2 {
            smoothing: 0.2,
            rtt_tolerance: 1.5,
            long_window: 600,
            queue_size: 4,
        }
    }
}

impl Gradient2 {
    /// How much of each new estimate is taken. Allowed: `(0, 1]`. Default: 0.2.
    ///
    /// ```
    /// # use seawall::adaptive::Gradient2;
    /// let g = Gradient2::default().smoothing(0.5);
    /// # let _ = g;
    /// ```
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// How much slower than the long-term average a call may be before the limit
    /// shrinks. Allowed: `[1, 100]`. Default: 1.5.
    ///
    /// ```
    /// # use seawall::adaptive::Gradient2;
    /// let g = Gradient2::default().rtt_tolerance(2.0);
    /// # let _ = g;
    /// ```
    pub fn rtt_tolerance(mut self, tolerance: f64) -> Self {
        self.rtt_tolerance = tolerance;
        self
    }

    /// Samples in the long-term latency average. Allowed: `10..=100000`. Default: 600.
    ///
    /// ```
    /// # use seawall::adaptive::Gradient2;
    /// let g = Gradient2::default().long_window(100);
    /// # let _ = g;
    /// ```
    pub fn long_window(mut self, samples: u32) -> Self {
        self.long_window = samples;
        self
    }

    /// Headroom added to each estimate, so the limit can grow while latency holds.
    /// Allowed: `0..=1000`. Default: 4.
    ///
    /// ```
    /// # use seawall::adaptive::Gradient2;
    /// let g = Gradient2::default().queue_size(2);
    /// # let _ = g;
    /// ```
    pub fn queue_size(mut self, calls: u32) -> Self {
        self.queue_size = calls;
        self
    }
}

/// TCP Vegas, after Netflix's `VegasLimit`: estimates how many calls queue at the
/// dependency from how much slower a call is than the fastest one seen (the no-load
/// latency), and keeps that queue short.
///
/// Per successful call: `queue = ceil(limit × (1 − rtt_noload / rtt))`. With
/// `l = log10(limit)`, rounded down and at least 1, a queue of at most `l` (threshold)
/// grows the limit by `6·l`, a queue under `3·l` (alpha) by `l`; a queue over `6·l`
/// (beta) shrinks it by `l`; in between the limit holds. A failed call shrinks it by `l`.
/// No growth while fewer than half the permits are in use. Each step is smoothed as
/// `limit + (new − limit) × smoothing`.
///
/// The no-load latency is the lowest latency of successful calls. After
/// [`probe_multiplier`](Self::probe_multiplier) × limit successful calls it is reset to
/// the latest call's, so that a dependency that became slower for good becomes the new
/// baseline instead of shrinking the limit forever.
///
/// Defaults, thresholds and steps are Netflix concurrency-limits' `VegasLimit`: alpha
/// `3·l`, beta `6·l`, threshold `l`, probe multiplier 30, smoothing 1 (none). Unlike
/// Netflix, the probe comes after exactly that many calls, not a random 50–100 % of it,
/// so runs repeat; failures neither set the no-load latency nor count toward a probe (a
/// fast failure is no measure of the work a call does); and `l` stays a logarithm above
/// a limit of 1000.
///
/// ```
/// use seawall::adaptive::{AdaptiveLimitLayer, Vegas};
///
/// let vegas = Vegas::default().probe_multiplier(60).smoothing(0.5);
/// let layer = AdaptiveLimitLayer::builder(vegas).build()?;
/// # let _ = layer;
/// # Ok::<(), seawall::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Vegas {
    pub(crate) probe_multiplier: u32,
    pub(crate) smoothing: f64,
}

impl Default for Vegas {
    fn default() -> Self {
        Vegas {
            probe_multiplier: 30,
            smoothing: 1.0,
        }
    }
}

impl Vegas {
    /// The no-load latency is measured again after this many times the limit in
    /// successful calls. Allowed: `1..=1000`. Default: 30.
    ///
    /// ```
    /// # use seawall::adaptive::Vegas;
    /// let vegas = Vegas::default().probe_multiplier(10);
    /// # let _ = vegas;
    /// ```
    pub fn probe_multiplier(mut self, multiplier: u32) -> Self {
        self.probe_multiplier = multiplier;
        self
    }

    /// How much of each step is taken. Allowed: `(0, 1]`. Default: 1 (the whole step).
    ///
    /// ```
    /// # use seawall::adaptive::Vegas;
    /// let vegas = Vegas::default().smoothing(0.2);
    /// # let _ = vegas;
    /// ```
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }
}

/// One of the limit algorithms; made from [`Aimd`], [`Gradient2`] or [`Vegas`] with
/// `into()`.
///
/// ```
/// use seawall::adaptive::{Algorithm, Aimd};
/// let algorithm: Algorithm = Aimd::default().into();
/// # let _ = algorithm;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum Algorithm {
    /// See [`Aimd`].
    Aimd(Aimd),
    /// See [`Gradient2`].
    Gradient2(Gradient2),
    /// See [`Vegas`].
    Vegas(Vegas),
}

impl From<Aimd> for Algorithm {
    fn from(a: Aimd) -> Self {
        Algorithm::Aimd(a)
    }
}

impl From<Gradient2> for Algorithm {
    fn from(g: Gradient2) -> Self {
        Algorithm::Gradient2(g)
    }
}

impl From<Vegas> for Algorithm {
    fn from(v: Vegas) -> Self {
        Algorithm::Vegas(v)
    }
}

/// One finished call, as the algorithms see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) rtt: Duration,
    /// Calls holding a permit when this one started (itself included).
    pub(crate) in_flight: u32,
    pub(crate) dropped: bool,
}

impl Aimd {
    pub(crate) fn next(&self, limit: f64, s: Sample) -> f64 {
        if s.dropped || s.rtt > self.timeout {
            (limit * self.backoff_ratio).floor()
        } else if f64::from(s.in_flight) * 2.0 >= limit {
            limit + 1.0
        } else {
            limit
        }
    }
}

impl Gradient2 {
    pub(crate) fn next(&self, limit: f64, long_rtt: f64, rtt: f64, in_flight: u32) -> f64 {
        if f64::from(in_flight) < limit / 2.0 {
            return limit;
        }
        let gradient = (self.rtt_tolerance * long_rtt / rtt).clamp(0.5, 1.0);
        let estimate = limit * gradient + f64::from(self.queue_size);
        limit * (1.0 - self.smoothing) + estimate * self.smoothing
    }
}

impl Vegas {
    /// The limit after a successful call that took `rtt`, the no-load latency being
    /// `rtt_noload` (both in the same unit).
    pub(crate) fn next(&self, limit: f64, rtt_noload: f64, rtt: f64, in_flight: u32) -> f64 {
        if f64::from(in_flight) * 2.0 < limit {
            return limit;
        }
        let l = log10(limit);
        let queue = (limit * (1.0 - rtt_noload / rtt)).ceil();
        let new = if queue <= l {
            limit + 6.0 * l
        } else if queue < 3.0 * l {
            limit + l
        } else if queue > 6.0 * l {
            limit - l
        } else {
            return limit;
        };
        self.smooth(limit, new)
    }

    /// The limit after a failed call.
    pub(crate) fn dropped(&self, limit: f64) -> f64 {
        self.smooth(limit, limit - log10(limit))
    }

    fn smooth(&self, limit: f64, new: f64) -> f64 {
        limit + (new - limit) * self.smoothing
    }
}

/// log10 of the limit, rounded down, at least 1: the unit of Vegas's thresholds and steps.
fn log10(limit: f64) -> f64 {
    limit.log10().floor().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vegas_steps_follow_the_queue_estimate() {
        let v = Vegas::default();
        // limit 20: l = 1, alpha 3, beta 6.
        assert_eq!(v.next(20.0, 10.0, 10.0, 20), 26.0, "no queue: + beta");
        assert_eq!(v.next(20.0, 9.0, 10.0, 20), 21.0, "queue 2 < alpha: + l");
        assert_eq!(v.next(20.0, 8.0, 10.0, 20), 20.0, "queue 4: holds");
        assert_eq!(v.next(20.0, 5.0, 10.0, 20), 19.0, "queue 10 > beta: − l");
        assert_eq!(v.next(20.0, 5.0, 10.0, 9), 20.0, "mostly idle: holds");
        assert_eq!(v.dropped(20.0), 19.0);
        // limit 150: l = 2.
        assert_eq!(v.next(150.0, 10.0, 10.0, 150), 162.0);
        assert_eq!(v.dropped(150.0), 148.0);
        assert_eq!(v.smoothing(0.5).dropped(150.0), 149.0);
    }

    #[test]
    fn vegas_log10_is_at_least_one() {
        assert_eq!(log10(1.0), 1.0);
        assert_eq!(log10(99.9), 1.0);
        assert_eq!(log10(100.0), 2.0);
        assert_eq!(log10(5000.0), 3.0);
    }
}
