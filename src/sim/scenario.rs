//! Scenarios: what the dependency does over time, and the load the callers put on it.

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
    /// let ok = Behaviour::healthy();
    /// # let _ = ok;
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
    /// # use seawall::sim::Behaviour;
    /// # use std::time::Duration;
    /// let dead = Behaviour::fail_fast(Duration::from_millis(10));
    /// # let _ = dead;
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
    /// # use seawall::sim::Behaviour;
    /// let hung = Behaviour::hang();
    /// # let _ = hung;
    /// ```
    pub const fn hang() -> Self {
        Behaviour {
            hang: true,
            ..Behaviour::healthy()
        }
    }

    /// A share `rate` of calls (0 to 1) fails after the usual latency.
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// let partial = Behaviour::brownout(0.3);
    /// # let _ = partial;
    /// ```
    pub const fn brownout(rate: f64) -> Self {
        Behaviour {
            error_rate: rate,
            ..Behaviour::healthy()
        }
    }

    /// The share of calls that fail, from 0 to 1 (clamped).
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// let b = Behaviour::healthy().error_rate(0.05);
    /// # let _ = b;
    /// ```
    pub fn error_rate(mut self, rate: f64) -> Self {
        self.error_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// The median latency of a call.
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// # use std::time::Duration;
    /// let spike = Behaviour::healthy().median(Duration::from_millis(800));
    /// # let _ = spike;
    /// ```
    pub fn median(mut self, median: Duration) -> Self {
        self.median = median;
        self
    }

    /// The spread of latency: σ of its logarithm (0 makes every call take the median;
    /// clamped to `0..=3`).
    ///
    /// ```
    /// # use seawall::sim::Behaviour;
    /// let steady = Behaviour::healthy().sigma(0.0);
    /// # let _ = steady;
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

/// A scripted run: the callers' load and deadline, the dependency's behaviour over time,
/// and the window that counts as the fault.
///
/// Built-in scenarios share one setup: 200 calls a second, open loop (each call starts
/// on time whatever the others do), a 3 s caller deadline, healthy latency log-normal
/// around 20 ms, 10 s healthy before the fault and 20 s after it.
///
/// ```
/// use seawall::sim::{Behaviour, Scenario};
/// use std::time::Duration;
///
/// // Your own: 50 % errors for 20 s, then 10 s healthy.
/// let s = Scenario::new("half down", Duration::from_secs(40))
///     .fault(Duration::from_secs(10)..Duration::from_secs(30), Behaviour::brownout(0.5));
/// assert_eq!(s.name(), "half down");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) duration: Duration,
    pub(crate) rate: f64,
    pub(crate) surges: Vec<(Duration, Duration, f64)>,
    pub(crate) caller_deadline: Duration,
    pub(crate) healthy: Behaviour,
    pub(crate) phases: Vec<Phase>,
    pub(crate) fault: (Duration, Duration),
    pub(crate) workers: Option<u32>,
}

const SEC: Duration = Duration::from_secs(1);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Scenario {
    /// A healthy dependency for `duration`, 200 calls a second, a 3 s caller deadline.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// # use std::time::Duration;
    /// let quiet = Scenario::new("quiet", Duration::from_secs(5));
    /// # let _ = quiet;
    /// ```
    pub fn new(name: impl Into<String>, duration: Duration) -> Self {
        Scenario {
            name: name.into(),
            duration,
            rate: 200.0,
            surges: Vec::new(),
            caller_deadline: 3 * SEC,
            healthy: Behaviour::healthy(),
            phases: Vec::new(),
            fault: (duration, duration),
            workers: None,
        }
    }

    /// Every call fails after 10 ms for 30 s.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::hard_outage().name(), "hard outage");
    /// ```
    pub fn hard_outage() -> Self {
        let dead = Behaviour::fail_fast(Duration::from_millis(10));
        Scenario::new("hard outage", secs(60)).fault(secs(10)..secs(40), dead)
    }

    /// No call is answered for 30 s.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::hanging_outage().name(), "hanging outage");
    /// ```
    pub fn hanging_outage() -> Self {
        Scenario::new("hanging outage", secs(60)).fault(secs(10)..secs(40), Behaviour::hang())
    }

    /// A share `rate` of calls fails for 60 s (`brownout(0.3)`: 30 %).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::brownout(0.3).name(), "brownout 30 %");
    /// ```
    pub fn brownout(rate: f64) -> Self {
        let name = format!("brownout {:.0} %", rate * 100.0);
        Scenario::new(name, secs(90)).fault(secs(10)..secs(70), Behaviour::brownout(rate))
    }

    /// Median latency 800 ms for 20 s, spread σ = 0.25 (the healthy shape, 0.5, scaled
    /// to 800 ms would put a third of all calls beyond a 1 s attempt timeout; a
    /// dependency slowed down as a whole is slow more evenly): about 19 % of calls take
    /// over 1 s, 0.3 % over 1.6 s.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::latency_spike().name(), "latency spike");
    /// ```
    pub fn latency_spike() -> Self {
        let slow = Behaviour::healthy()
            .median(Duration::from_millis(800))
            .sigma(0.25);
        Scenario::new("latency spike", secs(50)).fault(secs(10)..secs(30), slow)
    }

    /// Six times 5 s failing fast, then 5 s healthy.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::flapping().name(), "flapping");
    /// ```
    pub fn flapping() -> Self {
        let mut s = Scenario::new("flapping", secs(90));
        let dead = Behaviour::fail_fast(Duration::from_millis(10));
        for i in 0..6 {
            let from = secs(10 + 10 * i);
            s = s.phase(Phase::new(from..from + secs(5), dead));
        }
        s.fault = (secs(10), secs(70));
        s
    }

    /// A dependency that serves about 530 calls a second (12 workers, each call queued
    /// until one is free, and served even after its caller gave up), hit by 600 calls a
    /// second for 10 s. A stack that keeps it overloaded after the surge has caused a
    /// metastable failure.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::overload().name(), "overload");
    /// ```
    pub fn overload() -> Self {
        let mut s = Scenario::new("overload", secs(50))
            .workers(12)
            .surge(secs(10)..secs(20), 600.0);
        s.fault = (secs(10), secs(20));
        s
    }

    /// Failing fast for 20 s, then a failure rate that falls from 100 % to 0 over 20 s.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::gradual_recovery().name(), "gradual recovery");
    /// ```
    pub fn gradual_recovery() -> Self {
        let dead = Behaviour::fail_fast(Duration::from_millis(10));
        let mut s = Scenario::new("gradual recovery", secs(70)).fault(secs(10)..secs(30), dead);
        for step in 0..20u32 {
            let from = secs(30 + u64::from(step));
            let rate = 1.0 - f64::from(step + 1) / 20.0;
            s = s.phase(Phase::new(from..from + SEC, Behaviour::brownout(rate)));
        }
        s.fault = (secs(10), secs(50));
        s
    }

    /// Every built-in scenario, with a 30 % brownout.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::all().len(), 7);
    /// ```
    pub fn all() -> Vec<Scenario> {
        vec![
            Scenario::hard_outage(),
            Scenario::hanging_outage(),
            Scenario::brownout(0.3),
            Scenario::latency_spike(),
            Scenario::flapping(),
            Scenario::overload(),
            Scenario::gradual_recovery(),
        ]
    }

    /// The scenario's name.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::flapping().name(), "flapping");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fault: `behaviour` during `window`, which is also the window the report's
    /// "in the fault" figures cover, and whose end is the instant the dependency heals.
    ///
    /// ```
    /// # use seawall::sim::{Behaviour, Scenario};
    /// # use std::time::Duration;
    /// let s = Scenario::new("x", Duration::from_secs(30))
    ///     .fault(Duration::from_secs(5)..Duration::from_secs(15), Behaviour::hang());
    /// # let _ = s;
    /// ```
    pub fn fault(mut self, window: Range<Duration>, behaviour: Behaviour) -> Self {
        self.fault = (window.start, window.end);
        self.phase(Phase::new(window, behaviour))
    }

    /// Adds a phase; where phases overlap, the one added last wins.
    ///
    /// ```
    /// # use seawall::sim::{Behaviour, Phase, Scenario};
    /// # use std::time::Duration;
    /// let s = Scenario::new("x", Duration::from_secs(30)).phase(Phase::new(
    ///     Duration::from_secs(1)..Duration::from_secs(2),
    ///     Behaviour::brownout(1.0),
    /// ));
    /// # let _ = s;
    /// ```
    pub fn phase(mut self, phase: Phase) -> Self {
        self.phases.push(phase);
        self
    }

    /// Calls a second outside surges (default 200).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// let s = Scenario::hard_outage().rate(50.0);
    /// # let _ = s;
    /// ```
    pub fn rate(mut self, calls_per_second: f64) -> Self {
        self.rate = positive(calls_per_second);
        self
    }

    /// `calls_per_second` during `window` instead of the usual rate.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// # use std::time::Duration;
    /// let s = Scenario::hard_outage().surge(Duration::from_secs(5)..Duration::from_secs(6), 1000.0);
    /// # let _ = s;
    /// ```
    pub fn surge(mut self, window: Range<Duration>, calls_per_second: f64) -> Self {
        self.surges
            .push((window.start, window.end, positive(calls_per_second)));
        self
    }

    /// How long a caller waits for a call before giving up (default 3 s).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// # use std::time::Duration;
    /// let s = Scenario::hard_outage().caller_deadline(Duration::from_secs(1));
    /// # let _ = s;
    /// ```
    pub fn caller_deadline(mut self, deadline: Duration) -> Self {
        self.caller_deadline = deadline;
        self
    }

    /// Gives the dependency finite capacity: `workers` calls are served at once, others
    /// wait in line, and a call is served to the end even when its caller has gone.
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// let s = Scenario::brownout(0.1).workers(8);
    /// # let _ = s;
    /// ```
    pub fn workers(mut self, workers: u32) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// The dependency's behaviour `at` this time since the run began.
    pub(crate) fn behaviour_at(&self, at: Duration) -> Behaviour {
        self.phases
            .iter()
            .rev()
            .find(|p| p.during.0 <= at && at < p.during.1)
            .map_or(self.healthy, |p| p.behaviour)
    }

    /// Calls a second `at` this time.
    pub(crate) fn rate_at(&self, at: Duration) -> f64 {
        self.surges
            .iter()
            .rev()
            .find(|(from, until, _)| *from <= at && at < *until)
            .map_or(self.rate, |s| s.2)
    }

    /// The same scenario with the dependency healing `by` later: the fault, and every
    /// phase that ends with it, last longer.
    pub(crate) fn healing_later(&self, by: Duration) -> Scenario {
        let mut s = self.clone();
        let heal = self.fault.1;
        for phase in &mut s.phases {
            if phase.during.0 >= heal {
                phase.during.0 += by;
            }
            if phase.during.1 >= heal {
                phase.during.1 += by;
            }
        }
        for surge in &mut s.surges {
            if surge.0 >= heal {
                surge.0 += by;
            }
            if surge.1 >= heal {
                surge.1 += by;
            }
        }
        s.fault.1 += by;
        s.duration += by;
        s
    }
}

fn positive(rate: f64) -> f64 {
    if rate.is_finite() && rate > 0.0 {
        rate.min(1_000_000.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_phase_added_wins_and_healing_later_moves_the_end() {
        let s = Scenario::hard_outage();
        assert!(s.behaviour_at(secs(9)).error_rate == 0.0);
        assert!(s.behaviour_at(secs(10)).error_rate == 1.0);
        assert!(s.behaviour_at(secs(40)).error_rate == 0.0);
        let later = s.healing_later(Duration::from_millis(500));
        assert!(later.behaviour_at(secs(40)).error_rate == 1.0);
        assert_eq!(later.fault.1, Duration::from_millis(40_500));
    }
}
