//! What the dependency does: a behaviour, and the phase of the run it lasts.

use std::ops::Range;
use std::time::Duration;

/// How the simulated dependency answers while a [`Phase`] lasts.
///
/// Healthy latency is log-normal: `median × e^(σ·z)` for a standard normal `z`.
///
/// ```
/// use seawall::sim::Behaviour;
/// use std::time::Duration;
/// let brownout = Behaviour::healthy().error_rate(0.3);
/// assert_eq!(brownout, Behaviour::brownout(0.3));
/// let slow = Behaviour::healthy().median(Duration::from_millis(800));
/// # let _ = slow;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Behaviour {
    pub(crate) error_rate: f64,
    pub(crate) error_after: Option<Duration>,
    pub(crate) median: Duration,
    pub(crate) sigma: f64,
    pub(crate) hang: bool,
}

impl Behaviour {
    /// Answers every call, log-normal latency with a 20 ms median and σ = 0.5.
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// assert_eq!(Behaviour::healthy(), Behaviour::brownout(0.0));
    /// ```
    pub const fn healthy() -> Self {
        Behaviour {
            error_rate: 0.0,
            error_after: None,
            median: Duration::from_millis(20),
            sigma: 0.5,
            hang: false,
        }
    }

    /// Every call fails `after` it arrives (a dead dependency that refuses connections).
    ///
    /// ```
    /// use seawall::sim::{Behaviour, Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let dead = Behaviour::fail_fast(Duration::from_millis(10));
    /// let s = Scenario::new("dead", Duration::from_secs(2))
    ///     .rate(10.0)
    ///     .fault(Duration::ZERO..Duration::from_secs(1), dead);
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// assert_eq!(report.fault_success(), 0.0);
    /// assert_eq!(report.fault_p99(), Duration::from_millis(10));
    /// ```
    pub const fn fail_fast(after: Duration) -> Self {
        Behaviour {
            error_rate: 1.0,
            error_after: Some(after),
            ..Behaviour::healthy()
        }
    }

    /// No call is ever answered (a dependency whose connections hang).
    ///
    /// ```
    /// use seawall::sim::{Behaviour, Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let s = Scenario::new("hung", Duration::from_secs(2))
    ///     .rate(10.0)
    ///     .caller_deadline(Duration::from_millis(500))
    ///     .fault(Duration::ZERO..Duration::from_secs(1), Behaviour::hang());
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// assert_eq!(report.runs()[0].timed_out, 10, "every call in the fault");
    /// assert_eq!(report.fault_p99(), Duration::from_millis(500));
    /// ```
    pub const fn hang() -> Self {
        Behaviour {
            hang: true,
            ..Behaviour::healthy()
        }
    }

    /// A share `rate` of calls (0 to 1, clamped; NaN is 0) fails after the usual latency.
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// assert_eq!(Behaviour::brownout(0.3), Behaviour::healthy().error_rate(0.3));
    /// assert_eq!(Behaviour::brownout(1.5), Behaviour::brownout(1.0));
    /// ```
    pub const fn brownout(rate: f64) -> Self {
        Behaviour {
            error_rate: share(rate),
            ..Behaviour::healthy()
        }
    }

    /// The share of calls that fail, from 0 to 1 (clamped; NaN is 0).
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// let flaky = Behaviour::healthy().error_rate(0.05);
    /// assert_eq!(flaky, Behaviour::brownout(0.05));
    /// assert_eq!(flaky.error_rate(f64::NAN), Behaviour::healthy());
    /// ```
    pub fn error_rate(mut self, rate: f64) -> Self {
        self.error_rate = share(rate);
        self
    }

    /// The median latency of a call (a call never takes more than an hour).
    ///
    /// ```
    /// use seawall::sim::{Behaviour, Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let spike = Behaviour::healthy().median(Duration::from_millis(800));
    /// let s = Scenario::new("slow", Duration::from_secs(2))
    ///     .rate(50.0)
    ///     .fault(Duration::ZERO..Duration::from_secs(1), spike);
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// let p50 = report.runs()[0].fault_p50.as_secs_f64();
    /// assert!((p50 - 0.8).abs() < 0.1, "{p50}");
    /// ```
    pub fn median(mut self, median: Duration) -> Self {
        self.median = median;
        self
    }

    /// The spread of latency: σ of its logarithm (0 makes every call take the median;
    /// clamped to `0..=3`).
    ///
    /// ```
    /// use seawall::sim::{Behaviour, Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let steady = Behaviour::healthy().sigma(0.0);
    /// let s = Scenario::new("steady", Duration::from_secs(1))
    ///     .rate(10.0)
    ///     .fault(Duration::ZERO..Duration::from_secs(1), steady);
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// assert_eq!(report.fault_p99(), Duration::from_millis(20), "the median, always");
    /// ```
    pub fn sigma(mut self, sigma: f64) -> Self {
        self.sigma = if sigma.is_nan() {
            0.0
        } else {
            sigma.clamp(0.0, 3.0)
        };
        self
    }
}

/// The dependency's behaviour from `from` until `until` (times since the run began).
///
/// ```
/// use seawall::sim::{Behaviour, Phase};
/// use std::time::Duration;
/// let outage = Phase::new(Duration::from_secs(10)..Duration::from_secs(40), Behaviour::hang());
/// # let _ = outage;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    pub(crate) during: (Duration, Duration),
    pub(crate) behaviour: Behaviour,
}

impl Phase {
    /// `behaviour` while the run's clock is in `during`.
    ///
    /// ```
    /// # use seawall::sim::{Behaviour, Phase};
    /// # use std::time::Duration;
    /// let p = Phase::new(Duration::ZERO..Duration::from_secs(1), Behaviour::brownout(0.5));
    /// # let _ = p;
    /// ```
    pub fn new(during: Range<Duration>, behaviour: Behaviour) -> Self {
        Phase {
            during: (during.start, during.end),
            behaviour,
        }
    }
}

/// A share in `0..=1`; NaN is 0.
const fn share(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}
