//! The limit algorithms: AIMD and Gradient2, with Netflix concurrency-limits' defaults.

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

/// One of the limit algorithms; made from [`Aimd`] or [`Gradient2`] with `into()`.
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
pub enum Algorithm {
    /// See [`Aimd`].
    Aimd(Aimd),
    /// See [`Gradient2`].
    Gradient2(Gradient2),
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
