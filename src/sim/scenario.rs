//! Scenarios: what the dependency does over time, and the load the callers put on it.

use std::ops::Range;
use std::time::Duration;

use super::behaviour::{Behaviour, Phase};

/// A scripted run: the callers' load and deadline, the dependency's behaviour over time,
/// and the window that counts as the fault.
///
/// Built-in scenarios share one setup: 200 calls a second, open loop (each call starts
/// on time whatever the others do), a 3 s caller deadline, healthy latency log-normal
/// around 20 ms, 10 s healthy before the fault and 20 s after it (30 s after the
/// overload's surge).
///
/// Calls start evenly spaced at the rate in force: `k` calls have started once the rate
/// integrated from the start reaches `k` (the first call starts at 0).
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
    /// `(count, faulty)`: the dependency is `count` replicas, the first `faulty` of them
    /// following the phases, the others always healthy.
    pub(crate) replicas: Option<(u32, u32)>,
}

const SEC: Duration = Duration::from_secs(1);

/// The longest run: a scenario's duration, shifts included, is cut to a day.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The highest call rate, calls a second.
const MAX_RATE: f64 = 1_000_000.0;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Scenario {
    /// A healthy dependency for `duration` (at most a day), 200 calls a second, a 3 s
    /// caller deadline, no fault: figures "in the fault" are NaN until
    /// [`fault`](Self::fault) sets one.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let quiet = Scenario::new("quiet", Duration::from_secs(5));
    /// let report = Simulation::new(quiet).run("bare", |d: Dependency| d);
    /// assert_eq!((report.runs()[0].calls, report.success()), (1000, 1.0));
    /// assert!(report.fault_success().is_nan(), "no fault");
    /// ```
    pub fn new(name: impl Into<String>, duration: Duration) -> Self {
        let duration = duration.min(MAX_DURATION);
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
            replicas: None,
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

    /// A share `rate` of calls (0 to 1, clamped) fails for 60 s (`brownout(0.3)`: 30 %).
    ///
    /// ```
    /// # use seawall::sim::Scenario;
    /// assert_eq!(Scenario::brownout(0.3).name(), "brownout 30 %");
    /// ```
    pub fn brownout(rate: f64) -> Self {
        let partial = Behaviour::brownout(rate);
        let name = format!("brownout {:.0} %", partial.error_rate * 100.0);
        Scenario::new(name, secs(90)).fault(secs(10)..secs(70), partial)
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

    /// The fault: `behaviour` during `window` (a phase), which is also the window the
    /// report's "in the fault" figures cover, and whose end is the instant the dependency
    /// heals. Set again, the last window counts; an empty window is no fault.
    ///
    /// ```
    /// use seawall::sim::{Behaviour, Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let s = Scenario::new("x", Duration::from_secs(3))
    ///     .rate(10.0)
    ///     .fault(Duration::from_secs(1)..Duration::from_secs(2), Behaviour::brownout(1.0));
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// assert_eq!(report.fault_success(), 0.0);
    /// assert!((report.success() - 2.0 / 3.0).abs() < 1e-9);
    /// ```
    pub fn fault(mut self, window: Range<Duration>, behaviour: Behaviour) -> Self {
        self.fault = (window.start, window.end);
        self.phase(Phase::new(window, behaviour))
    }

    /// Adds a phase; where phases overlap, the one added last wins.
    ///
    /// ```
    /// use seawall::sim::{Behaviour, Dependency, Phase, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let s = Scenario::new("x", Duration::from_secs(3))
    ///     .rate(10.0)
    ///     .phase(Phase::new(Duration::ZERO..Duration::from_secs(2), Behaviour::brownout(1.0)))
    ///     .phase(Phase::new(Duration::from_secs(1)..Duration::from_secs(3), Behaviour::healthy()));
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// let ok: Vec<u64> = report.seconds().iter().map(|s| s.ok).collect();
    /// assert_eq!(ok, [0, 10, 10]);
    /// ```
    pub fn phase(mut self, phase: Phase) -> Self {
        self.phases.push(phase);
        self
    }

    /// Calls a second outside surges (default 200), from 0 (no calls; also for NaN and
    /// negative rates) to 1,000,000.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    ///
    /// let report = Simulation::new(Scenario::hard_outage().rate(50.0)).run("bare", |d: Dependency| d);
    /// assert_eq!(report.runs()[0].calls, 60 * 50);
    /// ```
    pub fn rate(mut self, calls_per_second: f64) -> Self {
        self.rate = self::calls_per_second(calls_per_second);
        self
    }

    /// `calls_per_second` during `window` instead of the usual rate (same range as
    /// [`rate`](Self::rate)); where surges overlap, the one added last wins.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let s = Scenario::new("x", Duration::from_secs(3))
    ///     .rate(10.0)
    ///     .surge(Duration::from_secs(1)..Duration::from_secs(2), 100.0);
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// let calls: Vec<u64> = report.seconds().iter().map(|s| s.calls).collect();
    /// assert_eq!(calls, [10, 100, 10]);
    /// ```
    pub fn surge(mut self, window: Range<Duration>, calls_per_second: f64) -> Self {
        self.surges.push((
            window.start,
            window.end,
            self::calls_per_second(calls_per_second),
        ));
        self
    }

    /// How long a caller waits for a call before giving up (default 3 s); such a call
    /// counts as timed out.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// let s = Scenario::hanging_outage().rate(5.0).caller_deadline(Duration::from_secs(1));
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// assert_eq!(report.fault_p99(), Duration::from_secs(1));
    /// ```
    pub fn caller_deadline(mut self, deadline: Duration) -> Self {
        self.caller_deadline = deadline;
        self
    }

    /// Gives the dependency finite capacity: `workers` (at least 1) calls are served at
    /// once, others wait in line, and a call is served to the end even when its caller
    /// has gone. A hanging phase holds no worker: its calls never reach the line.
    ///
    /// ```
    /// use seawall::sim::{Dependency, Scenario, Simulation};
    /// use std::time::Duration;
    ///
    /// // One worker serves about 43 calls a second; 100 a second arrive for 3 s.
    /// let s = Scenario::new("x", Duration::from_secs(3)).rate(100.0).workers(1);
    /// let report = Simulation::new(s).run("bare", |d: Dependency| d);
    /// assert!(report.runs()[0].timed_out > 0, "the last calls wait in line past 3 s");
    /// let cleared = report.dependency_recovery().unwrap();
    /// assert!(cleared > Duration::from_secs(2), "the line outlasts the calls by {cleared:?}");
    /// ```
    pub fn workers(mut self, workers: u32) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// Whether a phase (a fault) is on `at` this time since the run began.
    pub(crate) fn in_phase(&self, at: Duration) -> bool {
        self.phases
            .iter()
            .any(|p| p.during.0 <= at && at < p.during.1)
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

    /// The same scenario with the dependency healing `by` later: every instant from
    /// healing on (phase and surge edges, the fault's end, the run's end) moves `by`
    /// later, so the fault and whatever ends with it last longer. Without a fault
    /// (an empty window) nothing heals, and the scenario is unchanged.
    pub(crate) fn healing_later(&self, by: Duration) -> Scenario {
        let mut s = self.clone();
        let (from, heal) = self.fault;
        if from >= heal {
            return s;
        }
        let later = |at: &mut Duration| {
            if *at >= heal {
                *at = at.saturating_add(by);
            }
        };
        for phase in &mut s.phases {
            later(&mut phase.during.0);
            later(&mut phase.during.1);
        }
        for surge in &mut s.surges {
            later(&mut surge.0);
            later(&mut surge.1);
        }
        later(&mut s.fault.1);
        s.duration = s.duration.saturating_add(by).min(MAX_DURATION);
        s
    }
}

/// A call rate in `0..=MAX_RATE`; NaN and negative rates are 0.
fn calls_per_second(rate: f64) -> f64 {
    if rate > 0.0 { rate.min(MAX_RATE) } else { 0.0 }
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
